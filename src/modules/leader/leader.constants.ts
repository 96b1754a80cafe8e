/** The Lease the replicas elect a leader on, in the manager's namespace (named after upstream's Deployment). */
export const LEASE_NAME = 'kubemacpool-mac-controller-manager';

/** 1 on the replica that may allocate now (the leader, inside its fence), 0 on the others. */
export const LEADER_METRIC = 'kmp_leader';
export const LEADER_HELP =
  'Whether this replica is the leader and may allocate MACs now (1) or not (0); with LEADER_ELECTION=false, 1.';
