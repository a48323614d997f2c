//! Starts, drives and stops a network of nodes; filled in by the manager issue.
