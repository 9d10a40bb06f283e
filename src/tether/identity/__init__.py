"""Enterprise identity: the organisation's identity provider speaks to Tether here.

``keys``   the issuer's discovery document and signing keys, and JWT verification (ID tokens,
           OAuth2 access tokens) against them
``oidc``   the authorization code flow with PKCE, and the claim mappings that turn a verified
           token into a :class:`~tether.identity.oidc.DirectoryIdentity`
``scim``   SCIM 2.0 resources, filters and PATCH operations (RFC 7643/7644), with no storage

Storage and the rules (just-in-time provisioning, group sync, deactivation, audit) are in
``services/directory.py``; the HTTP routes in ``api/routes_oidc.py`` and ``api/routes_scim.py``.
"""
