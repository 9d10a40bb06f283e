"""A generated set of fake secrets, one generator per token family, embedded in realistic text.

Why: the hand-written ``secrets.jsonl`` covers the eight types the first detectors knew; this
set measures what the detect-secrets plugins and Tether's own rules find across >= 30 families
(cloud keys, chat and CI tokens, payment and e-mail APIs, private keys, JWTs, connection
strings, key-name assignments), each in prose, code, config, JSON, e-mail and Markdown. Every
value is random (seeded) and fake. ``cases()`` yields :class:`Case` with the exact span of
the secret, so tests check offsets too; ``decoys()`` yields code that must not count (UUIDs,
git hashes, sha256 digests, base64 images, SRI hashes).
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

ALNUM = string.ascii_letters + string.digits
UPPER = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"
URLSAFE = ALNUM + "-_"
B64 = ALNUM + "+/"
PW = ALNUM + "!#%&*^"


@dataclass(frozen=True)
class Case:
    family: str
    type: str
    context: str
    text: str
    start: int
    end: int


def _rand(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(obj: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


Gen = Callable[[random.Random], tuple[str, int, int]]


def tok(fn: Callable[[random.Random], str]) -> Gen:
    """A bare token: the whole snippet is the secret."""
    def gen(rng: random.Random) -> tuple[str, int, int]:
        t = fn(rng)
        return t, 0, len(t)
    return gen


def around(before: str, fn: Callable[[random.Random], str], after: str = "") -> Gen:
    """A snippet whose secret is the value between ``before`` and ``after``."""
    def gen(rng: random.Random) -> tuple[str, int, int]:
        v = fn(rng)
        return before + v + after, len(before), len(before) + len(v)
    return gen


def _pem(kind: str) -> Callable[[random.Random], str]:
    def gen(rng: random.Random) -> str:
        body = "\n".join(_rand(rng, 64, B64) for _ in range(rng.randint(4, 8)))
        return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"
    return gen


def _jwt(rng: random.Random) -> str:
    head = _b64url({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"})
    body = _b64url({"sub": _rand(rng, 10), "iat": rng.randint(10**9, 2 * 10**9), "scope": "read"})
    return f"{head}.{body}.{_rand(rng, 43, URLSAFE)}"


def _gcp_sa(rng: random.Random) -> tuple[str, int, int]:
    key = _pem("")(rng).replace("\n", "\\n")
    before = ('{"type": "service_account", "project_id": "acme-prod", '
              f'"private_key_id": "{_rand(rng, 40, HEX)}", "private_key": "')
    return before + key + '\\n", "client_email": "ci@acme-prod.iam.gserviceaccount.com"}', len(before), len(before) + len(key)


R = random.Random
FAMILIES: dict[str, tuple[str, Gen]] = {
    "aws_access_key_id": ("AWS_ACCESS_KEY", tok(lambda r: r.choice(["AKIA", "ASIA"]) + _rand(r, 16, UPPER))),
    "aws_secret_access_key": ("AWS_SECRET_KEY", around("aws_secret_access_key = ", lambda r: _rand(r, 40, B64))),
    "gcp_api_key": ("GCP_KEY", tok(lambda r: "AIza" + _rand(r, 35, URLSAFE))),
    "gcp_oauth_client_secret": ("GCP_KEY", tok(lambda r: "GOCSPX-" + _rand(r, 28, URLSAFE))),
    "gcp_service_account_key": ("PRIVATE_KEY", _gcp_sa),
    "azure_storage_key": ("AZURE_KEY", around("DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=",
                                              lambda r: _rand(r, 86, B64) + "==", ";EndpointSuffix=core.windows.net")),
    "azure_ad_client_secret": ("AZURE_KEY", tok(lambda r: _rand(r, 3) + str(r.randint(0, 9)) + "Q~" + _rand(r, 33, ALNUM + "_.") + r.choice(ALNUM))),
    "slack_bot_token": ("SLACK_TOKEN", tok(lambda r: f"xoxb-{r.randint(10**10, 10**12)}-{r.randint(10**10, 10**12)}-{_rand(r, 24)}")),
    "slack_user_token": ("SLACK_TOKEN", tok(lambda r: f"xoxp-{r.randint(10**10, 10**12)}-{r.randint(10**10, 10**12)}-{r.randint(10**10, 10**12)}-{_rand(r, 32, HEX)}")),
    "slack_webhook": ("SLACK_TOKEN", tok(lambda r: f"https://hooks.slack.com/services/T{_rand(r, 8, UPPER)}/B{_rand(r, 10, UPPER)}/{_rand(r, 24)}")),
    "discord_bot_token": ("DISCORD_TOKEN", tok(lambda r: r.choice("MNO") + _rand(r, 23) + "." + _rand(r, 6, URLSAFE) + "." + _rand(r, 27, URLSAFE))),
    "github_classic_pat": ("GITHUB_TOKEN", tok(lambda r: "ghp_" + _rand(r, 36))),
    "github_oauth_token": ("GITHUB_TOKEN", tok(lambda r: "gho_" + _rand(r, 36))),
    "github_app_token": ("GITHUB_TOKEN", tok(lambda r: r.choice(["ghs_", "ghu_", "ghr_"]) + _rand(r, 36))),
    "github_fine_grained_pat": ("GITHUB_TOKEN", tok(lambda r: "github_pat_" + _rand(r, 22) + "_" + _rand(r, 59))),
    "gitlab_pat": ("GITLAB_TOKEN", tok(lambda r: "glpat-" + _rand(r, 20, URLSAFE))),
    "gitlab_runner_token": ("GITLAB_TOKEN", tok(lambda r: "glrt-" + _rand(r, 20, URLSAFE))),
    "npm_token": ("NPM_TOKEN", tok(lambda r: "npm_" + _rand(r, 36))),
    "pypi_token": ("PYPI_TOKEN", tok(lambda r: "pypi-AgEIcHlwaS5vcmc" + _rand(r, r.randint(80, 150), URLSAFE))),
    "stripe_live_secret": ("STRIPE_KEY", tok(lambda r: "sk_live_" + _rand(r, r.choice([24, 99])))),
    "stripe_restricted_key": ("STRIPE_KEY", tok(lambda r: "rk_live_" + _rand(r, r.choice([24, 99])))),
    "stripe_test_secret": ("STRIPE_KEY", tok(lambda r: "sk_test_" + _rand(r, r.choice([24, 99])))),
    "stripe_webhook_secret": ("STRIPE_KEY", tok(lambda r: "whsec_" + _rand(r, 32))),
    "twilio_api_key": ("TWILIO_KEY", tok(lambda r: "SK" + _rand(r, 32, HEX))),
    "sendgrid_api_key": ("SENDGRID_KEY", tok(lambda r: "SG." + _rand(r, 22, URLSAFE) + "." + _rand(r, 43, URLSAFE))),
    "mailchimp_api_key": ("MAILCHIMP_KEY", tok(lambda r: _rand(r, 32, HEX) + "-us" + str(r.randint(1, 21)))),
    "mailgun_api_key": ("MAILGUN_KEY", tok(lambda r: "key-" + _rand(r, 32, HEX))),
    "telegram_bot_token": ("TELEGRAM_TOKEN", tok(lambda r: str(r.randint(10**8, 10**10 - 1)) + ":AA" + _rand(r, 33, URLSAFE))),
    "square_token": ("SQUARE_TOKEN", tok(lambda r: r.choice(["sq0csp-" + _rand(r, 43, URLSAFE), "sq0atp-" + _rand(r, 22, URLSAFE)]))),
    "openai_key": ("OPENAI_KEY", tok(lambda r: r.choice(["sk-proj-" + _rand(r, 48, URLSAFE) + _rand(r, 8),
                                                         "sk-" + _rand(r, 20) + "T3BlbkFJ" + _rand(r, 20)]))),
    "anthropic_key": ("ANTHROPIC_KEY", tok(lambda r: "sk-ant-api03-" + _rand(r, 93, URLSAFE) + "AA")),
    "huggingface_token": ("HUGGINGFACE_TOKEN", tok(lambda r: "hf_" + _rand(r, 34, string.ascii_letters))),
    "shopify_token": ("SHOPIFY_TOKEN", tok(lambda r: r.choice(["shpat_", "shpss_", "shpca_"]) + _rand(r, 32, HEX))),
    "databricks_token": ("DATABRICKS_TOKEN", tok(lambda r: "dapi" + _rand(r, 32, HEX))),
    "vault_token": ("VAULT_TOKEN", tok(lambda r: "hvs." + _rand(r, r.choice([24, 95]), URLSAFE) + r.choice(ALNUM))),
    "doppler_token": ("DOPPLER_TOKEN", tok(lambda r: "dp.st." + r.choice(["dev.", "prd.", ""]) + _rand(r, 43))),
    "digitalocean_token": ("DIGITALOCEAN_TOKEN", tok(lambda r: "dop_v1_" + _rand(r, 64, HEX))),
    "linear_api_key": ("LINEAR_KEY", tok(lambda r: "lin_api_" + _rand(r, 40))),
    "notion_token": ("NOTION_TOKEN", tok(lambda r: r.choice(["secret_" + _rand(r, 43), "ntn_" + _rand(r, 11, string.digits) + _rand(r, 35)]))),
    "postman_api_key": ("POSTMAN_KEY", tok(lambda r: "PMAK-" + _rand(r, 24, HEX) + "-" + _rand(r, 34, HEX))),
    "sentry_user_token": ("SENTRY_TOKEN", tok(lambda r: "sntryu_" + _rand(r, 64, HEX))),
    "grafana_service_account": ("GRAFANA_TOKEN", tok(lambda r: "glsa_" + _rand(r, 32) + "_" + _rand(r, 8, HEX))),
    "newrelic_user_key": ("NEWRELIC_KEY", tok(lambda r: "NRAK-" + _rand(r, 27, UPPER))),
    "atlassian_api_token": ("ATLASSIAN_TOKEN", tok(lambda r: "ATATT3xFfGF0" + _rand(r, 170, URLSAFE) + "=" + _rand(r, 8, HEX.upper()))),
    "dropbox_token": ("DROPBOX_TOKEN", tok(lambda r: "sl." + _rand(r, 138, URLSAFE))),
    "age_secret_key": ("AGE_KEY", tok(lambda r: "AGE-SECRET-KEY-1" + _rand(r, 58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"))),
    "artifactory_token": ("ARTIFACTORY_TOKEN", tok(lambda r: "AKCp8" + _rand(r, 68))),
    "ibm_cloud_iam_key": ("IBM_CLOUD_KEY", around('ibm_cloud_iam_api_key = "', lambda r: _rand(r, 44, URLSAFE), '"')),
    "jwt": ("JWT", tok(_jwt)),
    "rsa_private_key": ("PRIVATE_KEY", tok(_pem("RSA "))),
    "openssh_private_key": ("PRIVATE_KEY", tok(_pem("OPENSSH "))),
    "ec_private_key": ("PRIVATE_KEY", tok(_pem("EC "))),
    "postgres_url_password": ("PASSWORD", around("postgresql://app:", lambda r: _rand(r, 16), "@db.internal:5432/prod")),
    "mongodb_srv_password": ("PASSWORD", around("mongodb+srv://svc-reader:", lambda r: _rand(r, 20, ALNUM + "-_."), "@cluster0.x1y2z.mongodb.net/app")),
    "redis_url_password": ("PASSWORD", around("redis://default:", lambda r: _rand(r, 24), "@cache.internal:6379/0")),
    "adonet_connection_string": ("PASSWORD", around("Server=tcp:sql.acme.net,1433;Database=app;User Id=svc;Password=",
                                                     lambda r: _rand(r, 14, PW), ";Encrypt=True;")),
    "env_password": ("PASSWORD", around("DB_PASSWORD=", lambda r: _rand(r, 14, PW))),
    "yaml_password": ("PASSWORD", around("password: ", lambda r: _rand(r, 12, PW))),
    "generic_api_key_assignment": ("GENERIC_SECRET", around('api_key = "', lambda r: _rand(r, 32, URLSAFE), '"')),
    "keyword_secret_assignment": ("GENERIC_SECRET", around("auth_key: ", lambda r: _rand(r, 40))),
    "bearer_token": ("GENERIC_SECRET", around("Authorization: Bearer ", lambda r: _rand(r, 40, URLSAFE))),
}

# How a bare token or a snippet is embedded: (name, before, after)
CONTEXTS = [
    ("sentence", "Hi team, the new credential is ", " - please rotate the old one by Friday."),
    ("code", 'client = Client(\n    credential="', '",\n    timeout=30,\n)\n'),
    ("config", "# service credentials\nSERVICE_CREDENTIAL=", "\nLOG_LEVEL=info\n"),
    ("json", '{"name": "deploy", "credential": "', '", "enabled": true}'),
    ("email", "From: ops@acme.io\nSubject: staging access\n\n> On Monday Ana wrote:\n> use ", "\n> for the staging deploy\n\nThanks,\nBo"),
    ("markdown", "Run this first:\n\n```\n", "\n```\n\nthen restart the worker."),
]
# Snippets that already carry a key name or a URL go where a line of config or code would.
SNIPPET_CONTEXTS = [
    ("sentence", "To reproduce, connect with ", " and run the migration."),
    ("config", "[service]\nregion = eu-west-1\n", "\nretries = 3\n"),
    ("email", "From: dev@acme.io\nSubject: env\n\n> Ana wrote:\n> ", "\n> works for me\n\nBo"),
    ("markdown", "Set it in `.env`:\n\n```\n", "\n```\n"),
]


def cases(per_context: int = 2, seed: int = 20250311) -> Iterator[Case]:
    """Every family in every context, ``per_context`` fresh secrets each."""
    rng = random.Random(seed)
    for family, (kind, gen) in FAMILIES.items():
        bare = family not in _SNIPPETS
        for name, before, after in CONTEXTS if bare else SNIPPET_CONTEXTS:
            for _ in range(per_context):
                snippet, s, e = gen(rng)
                yield Case(family, kind, name, before + snippet + after, len(before) + s, len(before) + e)


#: Families whose generator makes a whole line (a key name or a URL around the secret).
_SNIPPETS = {
    "aws_secret_access_key", "gcp_service_account_key", "azure_storage_key", "ibm_cloud_iam_key",
    "postgres_url_password", "mongodb_srv_password", "redis_url_password", "adonet_connection_string",
    "env_password", "yaml_password", "generic_api_key_assignment", "keyword_secret_assignment", "bearer_token",
}


def decoys(seed: int = 7) -> list[str]:
    """Code and text full of random-looking values that are not secrets."""
    rng = random.Random(seed)
    png = base64.b64encode(bytes(rng.randrange(256) for _ in range(3000))).decode()
    out = [
        f'<img alt="logo" src="data:image/png;base64,{png}">',
        f"![chart](data:image/jpeg;base64,{png[:1200]})",
        "Content-Type: image/png\nContent-Transfer-Encoding: base64\n\n" + "\n".join(png[i:i + 76] for i in range(0, 2280, 76)),
        f'<script src="https://cdn.example.net/app.js" integrity="sha384-{base64.b64encode(rng.randbytes(48)).decode()}"></script>',
    ]
    for _ in range(10):
        u, h, d = uuid.UUID(int=rng.getrandbits(128)), _rand(rng, 40, HEX), _rand(rng, 64, HEX)
        out += [
            f'request_id = "{u}"', f"id: {u}", f'{{"user_id": "{u}", "trace_id": "{_rand(rng, 32, HEX)}"}}',
            f"commit {h}\nAuthor: Ana <ana@acme.io>\n\n    fix flaky test", f"git checkout {h[:12]}",
            f"sha256 = {d}", f'"sha256": "{d}"', f"{d}  release-1.4.2.tar.gz", f"Digest: sha256:{d}",
            f"checksum: {_rand(rng, 32, HEX)}", f'etag = "W/{_rand(rng, 27, URLSAFE)}"',
            f"nonce={_rand(rng, 22, URLSAFE)}", f"image: registry.acme.io/app@sha256:{d}",
        ]
    return out
