/** Metric names of our own (upstream's kmp_mac_collisions and kubevirt_kmp_duplicate_macs come with issue 7). */
export const POOL_SIZE_METRIC = 'kubemacpool_pool_size';
export const POOL_USED_METRIC = 'kubemacpool_pool_used';
export const POOL_ENTRIES_METRIC = 'kubemacpool_pool_entries';
export const POOL_SHARED_METRIC = 'kubemacpool_pool_shared_macs';
