"""Generate ``secrets.jsonl``: a labelled set of texts with and without credentials.

Every value is random (seeded, so the file is reproducible) and fake. Run from the repo root:
``.venv/bin/python tests/guard/data/make_secrets.py``. Lines: ``{"text", "label", "type"}``,
label 1 with the secret type for positives, label 0 and type null for look-alikes.
"""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

rng = random.Random(20240611)
ALNUM = string.ascii_letters + string.digits


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(obj: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def jwt() -> str:
    head = b64url({"alg": "HS256", "typ": "JWT"})
    body = b64url({"sub": rand(8), "name": rng.choice(["ana", "li", "sam"]), "iat": rng.randint(1e9, 2e9)})
    return f"{head}.{body}.{rand(43, ALNUM + '-_')}"


def pem() -> str:
    kind = rng.choice(["RSA ", "EC ", "OPENSSH ", ""])
    lines = "\n".join(rand(64, ALNUM + "+/") for _ in range(rng.randint(3, 6)))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{lines}\n-----END {kind}PRIVATE KEY-----"


GENERATORS = {
    "OPENAI_KEY": lambda: rng.choice(["sk-", "sk-proj-", "sk-svcacct-"]) + rand(rng.choice([32, 48, 64])),
    "AWS_ACCESS_KEY": lambda: "AKIA" + rand(16, string.ascii_uppercase + string.digits),
    "GITHUB_TOKEN": lambda: rng.choice(["ghp_", "gho_", "ghs_"]) + rand(36),
    "SLACK_TOKEN": lambda: (f"xox{rng.choice('bpa')}-{rng.randint(10**10, 10**11)}-{rng.randint(10**10, 10**11)}"
                            f"-{rand(24)}"),
    "JWT": jwt,
    "PRIVATE_KEY": pem,
    "PASSWORD": lambda: rand(rng.randint(8, 16), ALNUM + "!#%&*"),
    "GENERIC_SECRET": lambda: rand(rng.choice([24, 32, 40]), ALNUM + "_-"),
}

CONTEXTS = {
    "OPENAI_KEY": ["OPENAI_API_KEY={v}", "client = OpenAI(api_key=\"{v}\")", "Use the key {v} for the staging bot.",
                   "export OPENAI_API_KEY='{v}'"],
    "AWS_ACCESS_KEY": ["aws_access_key_id = {v}", "The IAM user's access key is {v}.", "AWS_ACCESS_KEY_ID={v}",
                       "credentials: {{ key: {v} }}"],
    "GITHUB_TOKEN": ["git clone https://{v}@github.com/acme/app.git", "GITHUB_TOKEN: {v}", "Use {v} in CI.",
                     "token = \"{v}\""],
    "SLACK_TOKEN": ["SLACK_BOT_TOKEN={v}", "The bot posts with {v} to #alerts.", "slack:\n  token: {v}"],
    "JWT": ["Authorization: Bearer {v}", "Cookie: session={v}", "The failing request carried {v} in the header."],
    "PRIVATE_KEY": ["Deploy key below:\n{v}\nDo not share.", "{v}", "key.pem contents:\n{v}"],
    "PASSWORD": ["password={v}", "db:\n  user: app\n  password: {v}", "DB_PASSWORD={v}", "passwd: {v}",
                 "secret = \"{v}\"", "postgresql://app:{v}@db.internal:5432/prod", "smtp_password: '{v}'"],
    "GENERIC_SECRET": ["api_key = \"{v}\"", "\"access_token\": \"{v}\"", "STRIPE_SECRET_KEY={v}",
                       "client_secret: {v}", "x-api-key: {v}", "auth_token={v}"],
}

NEGATIVES = [
    "Set password=<your-password> in the config file before starting.",
    "password: ********",
    "The password must be at least 12 characters long and contain a digit.",
    "DB_PASSWORD=${DB_PASSWORD}",
    "password = os.environ[\"DB_PASSWORD\"]",
    "api_key = None",
    "token: {{ secrets.GITHUB_TOKEN }}",
    "Reset your password from the account page.",
    "We use scikit-learn (sklearn) for the baseline model.",
    "Ask-me-anything sessions run every Friday.",
    "Bearer tokens are described in RFC 6750.",
    "Personal access tokens start with the ghp_ prefix.",
    "Keys that start with AKIA are long-term AWS access keys.",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUU\n-----END CERTIFICATE-----",
    "The secret to good bread is a long, cold fermentation.",
    "api_key: example-key-not-real",
    "The token expired at 10:42, please log in again.",
    "Run `export OPENAI_API_KEY=...` before calling the script.",
    "secret = true",
    "access_token: aaaaaaaaaaaaaaaaaaaaaaaa",
    "The build id is 20240611-build-000123.",
    "Slack channels like #xox-team are archived monthly.",
    "The header eyJhbGciOi is base64 for '{\"alg\":'.",
    "Set the passwd field to an empty string to disable login.",
    "client_secret: REPLACE_ME",
]


def main() -> None:
    rows: list[dict[str, object]] = []
    for kind, gen in GENERATORS.items():
        for i in range(10):
            template = CONTEXTS[kind][i % len(CONTEXTS[kind])]
            rows.append({"text": template.format(v=gen()), "label": 1, "type": kind})
    for text in NEGATIVES:
        rows.append({"text": text, "label": 0, "type": None})
    for _ in range(30):  # plain hex digests and uuids are ids, not secrets
        rows.append({"text": f"commit {rand(40, '0123456789abcdef')} fixed the ingest job", "label": 0, "type": None})
    rng.shuffle(rows)
    out = Path(__file__).with_name("secrets.jsonl")
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} lines to {out}")


if __name__ == "__main__":
    main()
