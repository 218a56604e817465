"""Pool-index service: directed language pairs, pools of nodes per pair, change feed."""
