/** Stamped on every VM CREATE and changed UPDATE, as upstream does, for compatibility. */
export const TRANSACTION_TIMESTAMP_ANNOTATION = 'kubemacpool.io/transaction-timestamp';
/** A VM with more interfaces than this is denied: far beyond what a VM can attach, and a cheap bound on work. */
export const MAX_INTERFACES = 256;
