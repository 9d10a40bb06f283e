-- Enterprise identity: where each principal and group comes from (typed in by an administrator,
-- signed in through OIDC, provisioned by SCIM), directory ids, deactivation, and the one-time
-- OIDC sign-in states (PKCE verifier and nonce) that every API replica can redeem exactly once.

ALTER TABLE principals
    ADD COLUMN source        text NOT NULL DEFAULT 'admin' CHECK (source IN ('admin', 'oidc', 'scim')),
    ADD COLUMN external_id   text,             -- SCIM externalId (the directory's own id)
    ADD COLUMN oidc_subject  text UNIQUE,      -- '<issuer> <sub>' of the OIDC identity
    ADD COLUMN email         text,
    ADD COLUMN display_name  text,
    ADD COLUMN active        boolean NOT NULL DEFAULT true,
    ADD COLUMN deactivated_at timestamptz,
    -- deleted by the directory (SCIM DELETE): kept, inactive and renamed, so its conversations,
    -- review items and audit trail stay; hidden from SCIM
    ADD COLUMN deleted_at    timestamptz,
    ADD COLUMN updated_at    timestamptz NOT NULL DEFAULT now();

ALTER TABLE groups
    ADD COLUMN source        text NOT NULL DEFAULT 'admin' CHECK (source IN ('admin', 'oidc', 'scim')),
    ADD COLUMN external_id   text,
    ADD COLUMN updated_at    timestamptz NOT NULL DEFAULT now();

-- An authorization request in flight: the state is looked up by its hash and deleted when
-- redeemed (a replayed state finds nothing); only the hash is stored.
CREATE TABLE oidc_states (
    state_hash     text PRIMARY KEY,
    nonce          text NOT NULL,
    code_verifier  text NOT NULL,
    return_to      text NOT NULL DEFAULT '/ui/chat',
    expires_at     timestamptz NOT NULL
);
CREATE INDEX oidc_states_expiry ON oidc_states (expires_at);
