/** Upstream's gauge: per MAC, the running objects sharing it; a series exists only while it is 2 or more. */
export const MAC_COLLISIONS_METRIC = 'kmp_mac_collisions';
export const MAC_COLLISIONS_HELP =
  'Count of running objects sharing the same MAC address (collision when > 1)';

/** The Warning Events' reason and reporting component (upstream's recorder name). */
export const COLLISION_EVENT_REASON = 'MACCollision';
export const COLLISION_EVENT_COMPONENT = 'kubemacpool';

/** KubeVirt's label on virt-launcher pods; their MACs are their VMI's, which counts instead. */
export const VIRT_LAUNCHER_LABEL = 'kubevirt.io';
export const VIRT_LAUNCHER_LABEL_VALUE = 'virt-launcher';
