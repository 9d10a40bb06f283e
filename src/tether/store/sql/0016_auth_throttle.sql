-- Failed authentications (bad API keys, failed sign-ins) are counted in rate_windows too, per
-- source address ('authfail:ip:<addr>') and per API-key prefix ('authfail:key:<prefix>'); the
-- API refuses further attempts for the rest of the minute once a counter reaches
-- [api] auth_failures_per_minute. No new table: the same one-minute windows and sweep apply.
COMMENT ON TABLE rate_windows IS
    'One-minute counters: requests per API key or principal, and failed authentications per source address and key prefix (authfail:*)';
