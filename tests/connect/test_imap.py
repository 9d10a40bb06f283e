"""The IMAP connector against Debian's Dovecot, started by the test on 127.0.0.1."""

from __future__ import annotations

import imaplib
import shutil
import socket
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from contract import ConnectorContract
from helpers import SYSTEM, docs, sync

from tether.connect.base import ConnectorContext
from tether.connect.imap import ImapConfig, ImapConnector
from tether.errors import CredentialsRejected

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
pytestmark = pytest.mark.skipif(not Path(DOVECOT).exists(), reason="dovecot-imapd is installed by `make setup-dev`")
SECRETS = {"MAIL_PW": "s3cret"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def dovecot():
    """(port, user): a Dovecot with one user ``ana`` (password ``s3cret``), maildirs in a temp folder."""
    root = Path(tempfile.mkdtemp(prefix="tether-dovecot-"))
    root.chmod(0o755)
    (root / "mail").mkdir(mode=0o777)
    (root / "mail").chmod(0o777)
    (root / "passwd").write_text("ana:{PLAIN}s3cret\n")
    port = _free_port()
    conf = root / "dovecot.conf"
    conf.write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                err = proc.stderr.read() if proc.stderr else ""
                raise RuntimeError(f"dovecot did not start: {err} {log}") from None
            time.sleep(0.1)
    yield port
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(root, ignore_errors=True)


def _client(port: int) -> imaplib.IMAP4:
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login("ana", "s3cret")
    return c


def _mail(subject: str, text: str, attachment: tuple[str, str] | None = None) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "hr@example.org", "ana@example.org", subject
    m.set_content(text)
    if attachment:
        m.add_attachment(attachment[1].encode(), maintype="text", subtype="markdown", filename=attachment[0])
    return bytes(m)


def _config(port: int, folder: str, **kw) -> ImapConfig:
    return ImapConfig(host="127.0.0.1", port=port, security="none", username="ana", password_env="MAIL_PW",
                      folders=[folder], acl=["public"], **kw)


class ImapSource:
    def __init__(self, port: int, folder: str) -> None:
        self.port, self.folder = port, folder
        self.client = _client(port)
        self.client.create(folder)
        self.uids: dict[str, str] = {}
        self.append("a.txt", "alpha: the office opens at nine.")
        self.append("b.md", "beta: the canteen closes at two.")

    def append(self, name: str, text: str) -> None:
        self.client.append(self.folder, "", imaplib.Time2Internaldate(time.time()), _mail(name, text))
        self.client.select(self.folder)
        _, data = self.client.uid("SEARCH", "ALL")
        self.uids[name] = data[0].split()[-1].decode()

    def connector(self) -> ImapConnector:
        return ImapConnector.create(_config(self.port, self.folder), ConnectorContext(SECRETS, "/tmp", 10**6))

    def change(self, name: str, text: str) -> None:  # a message never changes: a new one replaces it
        self.delete(name)
        self.append(name, text)

    def delete(self, name: str) -> None:
        self.client.select(self.folder)
        self.client.uid("STORE", self.uids.pop(name), "+FLAGS", "(\\Deleted)")
        self.client.expunge()

    def item_id(self, name: str) -> str:
        _, data = self.client.status(self.folder, "(UIDVALIDITY)")
        validity = data[0].split(b"UIDVALIDITY ")[1].rstrip(b")").decode()
        return f"{self.folder}/{validity}/{self.uids[name]}"


class TestImapContract(ConnectorContract):
    @pytest.fixture
    def source(self, dovecot, request) -> ImapSource:
        return ImapSource(dovecot, f"T{abs(hash(request.node.name)) % 10**6}")

    @pytest.fixture
    def unreachable(self) -> ImapConnector:
        return ImapConnector.create(_config(9, "INBOX"), ConnectorContext(SECRETS, "/tmp", 10**6))

    def test_a_change_changes_the_version_and_a_deletion_is_reported(self, source) -> None:
        """Messages are immutable: a changed one is a new id, and the old id is gone."""
        first = {r.external_id for r in source.connector().list(None).items}
        old_a, old_b = source.item_id("a.txt"), source.item_id("b.md")
        source.change("a.txt", "alpha changed: the new figure is 42")
        source.delete("b.md")
        after = {r.external_id: r for r in source.connector().list(None).items}
        assert old_a in first and old_a not in after and old_b not in after
        new_a = source.item_id("a.txt")
        assert b"42" in source.connector().fetch(after[new_a]).data


def test_a_refused_login_is_a_typed_error(dovecot) -> None:
    connector = ImapConnector.create(_config(dovecot, "INBOX"), ConnectorContext({"MAIL_PW": "wrong"}, "/tmp", 10))
    with pytest.raises(CredentialsRejected):
        connector.list(None)


def test_messages_and_attachments_sync_into_the_folders_collection(engine, dovecot) -> None:
    src = ImapSource(dovecot, "Policies")
    src.client.append("Policies", "", imaplib.Time2Internaldate(time.time()),
                      _mail("Expenses", "See the attached policy.",
                            ("expenses.md", "# Expenses\n\nTaxis are refunded up to 40 euros.\n")))
    engine.secrets = SECRETS
    engine.connectors.secrets = SECRETS
    engine.connectors.add(SYSTEM, "mail", "imap", collection="mail",
                          config={**_config(dovecot, "Policies").model_dump(),
                                  "folder_collections": {"Policies": "policies"}})
    run = sync(engine, "mail")
    assert (run["added"], run["failed"]) == (3, 0)
    held = docs(engine, "policies")
    assert len(held) == 3 and docs(engine, "mail") == {}
    bodies = [engine.documents.get(SYSTEM, d["id"])["body"] for d in held.values()]
    assert any("40 euros" in b for b in bodies)  # the attachment went through its loader
    src.delete("b.md")
    run = sync(engine, "mail")
    assert (run["deleted"], run["unchanged"]) == (1, 2)


def test_credentials_refused_after_a_sync_fail_the_run_and_keep_the_mail(engine, dovecot) -> None:
    src = ImapSource(dovecot, "Expiring")
    engine.connectors.secrets = SECRETS
    engine.connectors.add(SYSTEM, "mail", "imap", config=_config(dovecot, "Expiring").model_dump())
    assert sync(engine, "mail")["added"] == 2
    before = docs(engine, "default")
    engine.connectors.secrets = {"MAIL_PW": "the-password-before-it-was-rotated"}  # the server refuses it
    run = sync(engine, "mail")
    assert (run["status"], run["error"]["code"], run["deleted"]) == ("failed", "credentials_rejected", 0)
    shown = engine.connectors.show(SYSTEM, "mail")
    assert shown["status"] == "error" and shown["last_error"]["code"] == "credentials_rejected"
    assert "refused" in shown["last_error"]["message"] and "s3cret" not in str(shown)
    assert docs(engine, "default") == before  # nothing deleted or half-written
    engine.connectors.secrets = SECRETS
    src.delete("b.md")
    run = sync(engine, "mail")
    assert (run["status"], run["deleted"], run["unchanged"]) == ("done", 1, 1)
