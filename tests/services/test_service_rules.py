"""Permission decisions of the accounts, usage, audit, traces, evaluations, operations and review
services, with real PostgreSQL: administrators only where the rule says so (a member gets
PermissionDenied and nothing changes), the operator (``Principal.system()``) acts as an
administrator and is audited with no actor, askers see only their own, and the review queue's
checks hold when called the way every edge calls them."""

from __future__ import annotations

import pytest

from tether.errors import NotFound, PermissionDenied, Unauthenticated, UnknownPrincipal
from tether.review.service import ReviewService
from tether.services.accounts import AccountService
from tether.services.audit import OPERATOR, AuditService
from tether.services.evaluations import EvaluationService
from tether.services.operations import OperationsService
from tether.services.traces import TraceService
from tether.services.usage import UsageService
from tether.settings import Settings
from tether.store import principals
from tether.types import Principal


@pytest.fixture
def env(db, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", database_url=db.url)
    with db.transaction() as conn:
        for name, role in (("ana", "member"), ("eve", "member"), ("rita", "reviewer"), ("root", "admin")):
            principals.add_user(conn, name, role=role)
        p = {n: principals.get_principal(conn, n) for n in ("ana", "eve", "rita", "root")}
    services = {"accounts": AccountService(db), "usage": UsageService(db), "audit": AuditService(db),
                "traces": TraceService(db, settings), "evaluations": EvaluationService(db),
                "operations": OperationsService(db, settings), "reviews": ReviewService(db, settings)}
    return services, p


ADMIN_ONLY = [
    ("accounts", "users", (), {}),
    ("accounts", "groups", (), {}),
    ("accounts", "keys", (), {}),
    ("accounts", "add_user", ("zed",), {}),
    ("accounts", "add_group", ("ops",), {}),
    ("accounts", "create_key", ("ana",), {}),
    ("accounts", "ensure_user", ("zed",), {}),
    ("usage", "budgets", (), {}),
    ("usage", "set_budget", (), {"scope": "user", "target": "ana", "limit_usd": 1.0}),
    ("audit", "recent", (), {}),
    ("traces", "monitor", (), {}),
    ("traces", "alerts", (), {}),
    ("traces", "purge", (), {}),
    ("evaluations", "runs", (), {}),
    ("operations", "cache_stats", (), {}),
    ("operations", "clear_cache", (), {}),
]


@pytest.mark.parametrize("service,method,args,kwargs", ADMIN_ONLY, ids=[f"{s}.{m}" for s, m, _, _ in ADMIN_ONLY])
def test_admin_only_calls(env, service, method, args, kwargs):
    services, p = env
    call = getattr(services[service], method)
    for who in ("ana", "rita"):
        with pytest.raises(PermissionDenied):
            call(p[who], *args, **kwargs)
    call(p["root"], *args, **kwargs)  # an administrator may
    if method not in ("add_user", "ensure_user", "add_group", "set_budget"):  # (these exist now)
        call(Principal.system(), *args, **kwargs)  # and so may the operator


def test_refused_changes_leave_nothing_behind(env):
    services, p = env
    accounts = services["accounts"]
    with pytest.raises(PermissionDenied):
        accounts.add_user(p["ana"], "mallory", role="admin")
    with pytest.raises(UnknownPrincipal):
        accounts.principal("mallory")
    assert services["audit"].recent(p["root"]) == []


def test_changes_are_audited_with_their_actor(env):
    services, p = env
    accounts = services["accounts"]
    accounts.add_user(Principal.system(), "zed", via="cli")
    key = accounts.create_key(p["root"], "zed", via="api")
    accounts.revoke_key(p["root"], str(key["id"]))
    log = services["audit"].recent(p["root"], action="admin.")
    assert [(r["action"], r["actor"], r["details"].get("via")) for r in log] == [
        ("admin.key.revoke", "root", None), ("admin.key.create", "root", "api"), ("admin.user.add", OPERATOR, "cli")]
    assert [r["action"] for r in services["audit"].recent(p["root"], user="root")] == [
        "admin.key.revoke", "admin.key.create"]


def test_sessions_die_with_their_key(env):
    services, p = env
    accounts = services["accounts"]
    key = accounts.create_key(p["root"], "ana")
    principal, sid = accounts.open_session(key["key"], ttl_s=60)
    assert principal.name == "ana" and accounts.session_principal(sid).name == "ana"
    assert accounts.authenticate_key(key["key"]).api_key_id == key["id"]
    accounts.revoke_key(p["root"], key["prefix"])
    with pytest.raises(Unauthenticated):
        accounts.session_principal(sid)
    with pytest.raises(Unauthenticated):
        accounts.open_session(key["key"], ttl_s=60)


def test_usage_is_your_own_unless_you_administer(env):
    services, p = env
    usage = services["usage"]
    with pytest.raises(PermissionDenied):
        usage.rollup(p["ana"], user="root")
    assert usage.rollup(p["ana"], user="ana")["user"] == "ana"
    assert usage.rollup(p["ana"])["user"] == "ana"  # whatever `by` says: only her calls
    assert "user" not in usage.rollup(p["root"])  # everyone's
    assert usage.rollup(p["root"], user="ana")["user"] == "ana"
    page = usage.page(p["ana"], "not-a-date", None)
    assert page["per_user"] is None and page["everyone"] is False and (page["until"] - page["since"]).days == 29
    assert usage.page(p["root"])["per_user"] is not None


def test_review_queue_rules_as_every_edge_calls_them(env):
    services, p = env
    reviews = services["reviews"]
    item = reviews.ask(p["ana"], "Who approves travel?", reason="not found")
    assert item["view"] == "asker" and item["status"] == "open"
    assert reviews.ask(p["ana"], "Who approves travel?")["id"] == item["id"]  # the open item is reused
    with pytest.raises(NotFound):  # someone else's item does not exist for an asker
        reviews.get(p["eve"], item["id"])
    with pytest.raises(NotFound):  # ... not even to work on: not found before forbidden
        reviews.claim(p["eve"], item["id"])
    with pytest.raises(PermissionDenied):  # her own item, but she does not review
        reviews.claim(p["ana"], item["id"])
    with pytest.raises(PermissionDenied):
        reviews.counts(p["ana"])
    assert "counts" not in reviews.overview(p["ana"])
    claimed = reviews.claim(p["rita"], item["id"])
    assert claimed["view"] == "reviewer" and claimed["claimed_by"] == "rita"
    assert reviews.overview(p["rita"])["counts"]["claimed"] == 1
    answered = reviews.answer(p["rita"], item["id"], "The line manager approves travel.")
    assert answered["status"] == "answered"
    assert reviews.get(p["ana"], item["id"])["answer"] == "The line manager approves travel."
    with pytest.raises(NotFound):
        reviews.rate(p["ana"], "f" * 32, "down")  # no such trace of hers
