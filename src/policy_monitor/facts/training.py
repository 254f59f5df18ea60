"""Training statements: whether the vendor uses customers' content to train or improve its models.

Read per sentence, in this order:
1. the sentence must be about training models (a training verb and a model word) on the customer's
   content, not on public or third-party data;
2. restrictions on the customer ("Customer shall not use Outputs to develop models", "you may not
   use the Services to train competing models") say nothing about the vendor and are skipped;
3. an opt-out ("unless you opt out", "you can object ... in your settings") gives `opt-out` when the
   main clause is not negated;
4. a negation in the main clause ("do not", "isn't", "will never", "no longer", "neither ... nor")
   gives `no`, whatever the exceptions after "unless"/"except" say;
5. use only with the customer's opt-in, consent or permission gives `no` (condition opt-in);
6. otherwise the vendor says it trains: `yes`.

A sentence without any training words that says the customer's content is used only to provide or
operate the service, or to monitor abuse ("we only use your prompts to provide the service", "used
solely to ...", "not used for any other purpose"), also gives `no` (condition service-only): the
extractor drops it when it introduces a list (ends with ":") that names training among its items.
"""

from __future__ import annotations

import re

from .sentences import Gated, Unit

TRAIN = re.compile(
    r"(?<![-\w])(?:re)?train(?:s|ed|ing)?\b|\bfine-?tun(?:e|es|ing)\b|\bimprov\w*\b[^.;]{0,80}?\bmodels?\b|"
    r"\b(?:develop|build|creat)\w*\b[^.;]{0,50}?\bmodels?\b|\bmodel (?:training|improvement)",
    re.IGNORECASE,
)
TRAIN_ON = re.compile(r"\btrain(?:s|ed|ing)? (?:on|with)\b|\bused (?:for|to) train|\bfor training\b", re.I)
MODEL = re.compile(
    r"\b(?:models?|AI|LLMs?|machine learning|algorithms?|artificial intelligence|foundation|"
    r"training (?:purposes|data)|for training|model training|technolog(?:y|ies))\b",
    re.IGNORECASE,
)
USER_CONTENT = re.compile(
    r"\b(?:inputs?|outputs?|prompts?|completions?|conversations?|chats?|content|messages?|questions|"
    r"responses|queries|interactions|search information|(?:your|business|customer|user|usage|personal)"
    r" (?:data|information)|"
    r"(?:your|customer|business|user|API) (?:\w+ )?data|data (?:you|from|collected)|"
    r"(?:data|information|content|files) (?:\w+ )?(?:submitted|sent|provided|uploaded|received|transmitted|"
    r"entered|shared) (?:through|via|to|by|using|with|in)|API (?:requests?|traffic|usage|calls)|"
    r"information you|what you|user data|customer data)\b",
    re.IGNORECASE,
)
_NOT_USER_DATA_NEEDS = (
    "public", "internet", "third", "dataset", "trained", "training data uploaded", "personnel", "employees", "staff",
)  # fmt: skip
NOT_USER_DATA = Gated(
    re.compile(
        r"\b(?:publicly available|public(?:ly)? (?:data|sources|information)|on the internet|from the internet|"
        r"third[- ]party (?:sources|content|data|datasets?)|datasets? provided|Third-Party Content|"
        r"pre-?trained|training data uploaded|personnel|employees|staff)\b",
        re.IGNORECASE,
    ),
    _NOT_USER_DATA_NEEDS,
)
# data the vendor obtains from other organisations (licensed or bought datasets): not customer content
OBTAINED = re.compile(
    r"\b(?:organi[sz]ations|companies|partners|publishers|vendors|sources) (?:that |which )?we (?:obtain|acquire|"
    r"purchase|license|get) (?:\w+ )?from\b|\b(?:obtain|acquire|purchase|license)[sd]? (?:\w+ ){0,3}from (?:other |"
    r"third[- ]part(?:y|ies) |external |partner )?(?:organi[sz]ations|companies|partners|publishers|vendors|"
    r"data (?:providers|brokers))\b",
    re.IGNORECASE,
)
CUSTOMER_SUBJECT = re.compile(
    r"(?:^|[,;:()]\s*|\b(?:and|or|that)\s+)(?:the\s+)?(?:Customer|Customers|You|you|Users?|End Users?|"
    r"Licensee|Developers?|Recipient)\s+(?:(?:may|shall|must|will|can|cannot|agrees?|are|is|should)"
    r"\b|(?:may|shall|must) not|won't|can't)",
)
_OPT_OUT_NEEDS = (
    "opt", "object", "turn", "switch", "disabl", "withdraw", "revok", "unless you", "data controls", "settings",
)  # fmt: skip
OPT_OUT = Gated(
    re.compile(
        r"\bopt(?:s|ed|ing)?[- ]?out\b|\bobject(?:ing)? to\b|\bturn(?:ing)? off\b|\bswitch(?:ing)? off\b|"
        r"\bdisabl\w+|\bwithdraw\w*|\brevok\w+|\bunless you (?:choose|decide|tell)|\bdata controls\b|"
        r"\bchange (?:this|your \w+) in (?:your )?settings",
        re.IGNORECASE,
    ),
    _OPT_OUT_NEEDS,
)
OPT_IN = re.compile(
    r"\bopt(?:s|ed|ing)?[- ]?in(?:to)?\b|\bexplicit(?:ly)?\b[^.;]{0,30}\b(?:consent|permission|agree\w*|"
    r"opt\w*|choose|chosen)|\b(?:with|without) (?:your|customer's|the customer's|their) (?:prior )?"
    r"(?:explicit |express |written )?(?:consent|permission|opt-in|instruction|agreement|authori[sz]ation)|"
    r"\bpermission or instruction|"
    r"\b(?:unless|only if|if) (?:the )?(?:customer|you) (?:\w+ )?(?:agree|consent|"
    r"choose to share|opt)|\bas (?:directed|instructed) by (?:you|customer)|\bexcept as directed\b",
    re.IGNORECASE,
)
NEGATION = re.compile(
    r"\b(?:not|never|no longer|neither|nor|cannot|won't|doesn't|don't|isn't|aren't|wasn't|weren't|"
    r"shan't|haven't|hasn't)\b|n't\b|\bno (?:\w+ )?(?:is|are) used\b",
    re.IGNORECASE,
)
USE_FOR_TRAINING = re.compile(
    r"\b(?:use[sd]?|using|utili[sz]\w*|process\w*|analy[sz]\w*|leverag\w*|apply|applied)\b[^.;]{0,160}?"
    r"\b(?:to|for|in|as)\s+(?:\w+\s+){0,3}?(?:train|training|retrain|fine-tune|fine-tuning|improv\w*|develop\w*)\b|"
    r"(?<![-\w])(?:re)?train(?:s|ed|ing)?\s+(?:on|with|our|its|the|any|their|models?|LLMs?|AI|and|or|\w+'s)\b|"
    r"\bmodel training\b|\btraining (?:purposes|and (?:improv|optimi|develop)\w*)|"
    r"\b(?:for|in|of) (?:model )?training\b|"
    r"\bto train\b|\bfine-?tune (?:our|its|the)\b",
    re.IGNORECASE,
)
NO_SERVICE_USE = re.compile(
    r"\b(?:not|n't|never)\s+use\s+(?:any\s+)?(?:Customer|User|your|business|API)\s+(?:Content|Data|data|content|"
    r"inputs?|prompts?)\b[^.;]{0,40}?\bto\s+(?:develop|improve)\b",
    re.IGNORECASE,
)
# a sentence on how long data is kept, with training among the criteria, and no use of the customer's content
RETENTION_CRITERIA = re.compile(r"\bhow long\b|\bretention (?:periods?|criteria)\b", re.IGNORECASE)
_USE_VERB = re.compile(r"\b(?:use[sd]?|using|utili[sz]\w*)\b", re.IGNORECASE)
# use for a single purpose (or for no other purpose than the service) of the customer's content
_SERVICE_PURPOSE = (
    r"(?:provid|operat|deliver|run|maintain|monitor|detect|prevent|secur|support|respond|generat|process|fulfil|"
    r"perform|comply|enforc|investigat|answer|return|complet|offer)\w*"
)
# "only/solely/exclusively use ... to provide" and "used only to provide", "... only use Your Prompts:"
ONLY_USE = re.compile(
    rf"\b(?:only|solely|exclusively)\s+(?:(?P<verb>use[sd]?|process(?:es|ed)?)\b(?:[^.;:]{{0,80}}?\b"
    rf"(?:to|for|in order to)\s+(?:the\s+)?{_SERVICE_PURPOSE}|[^.;:]{{0,80}}:$)|"
    rf"(?:to|for|in order to)\s+(?:the\s+)?{_SERVICE_PURPOSE})",
    re.IGNORECASE,
)
_USE_BEFORE = re.compile(r"\b(?:use[sd]?|process(?:es|ed)?)\b[^.;:]{0,80}$", re.IGNORECASE)
_SOLE_WORDS = re.compile(r"(?:sole|only|limited|exclusive) purpose")
SOLE_PURPOSE = re.compile(rf"\bfor the (?:sole|only|limited|exclusive) purposes? of {_SERVICE_PURPOSE}", re.I)
NO_OTHER_PURPOSE = re.compile(
    r"(?:\b(?:not|never)|n't)\b[^.;:]{0,40}?\b(?:for|to)\s+any\s+other\s+purposes?\b|\bfor no other purposes?\b|"
    r"\bnot (?:be )?(?:re-?used|analy[sz]ed|shared|used)(?:,? (?:or |and )?(?:re-?used|analy[sz]ed|shared|used))* "
    r"for (?:any )?other purposes\b",
    re.IGNORECASE,
)
CONTENT_OBJECT = re.compile(
    r"\b(?:inputs?|outputs?|prompts?|completions?|conversations?|chats?|messages?|queries|content|"
    r"(?:customer|user|your|API|business) data|data (?:submitted|sent|you (?:submit|send|provide)))\b",
    re.IGNORECASE,
)
# a purpose beyond the service itself: such a sentence says nothing certain about training
OTHER_PURPOSE = re.compile(r"\b(?:improv\w*|develop\w*|research\w*|analy[sz]\w*|personali[sz]\w*|advertis\w*)")
_ANAPHORA = re.compile(r"^(?:Consequently|Therefore|Thus|Accordingly|As a result|Hence|For this reason)\b", re.I)
FEEDBACK = re.compile(
    r"\b(?:when|if) you (?:submit|send|give|provide) (?:us )?feedback\b|\bwhen you (?:explicitly )?report\b|"
    r"\bfeedback you (?:choose to )?(?:send|submit|provide)\b",
    re.IGNORECASE,
)
FLAGGED = re.compile(r"^(?:if|when)\b[^,]{0,80}\bflag\w*", re.IGNORECASE)
_EXCLUDING_NEEDS = ("exclud",)
EXCLUDING = Gated(
    re.compile(r"\bexclud\w*\s+(?:\w+\s+)?(?:model\s+)?training\b", re.IGNORECASE),
    _EXCLUDING_NEEDS,
)
_MAIN_END = re.compile(r",?\s*\b(?:unless|except|other than|save)\b|\(\s*(?:1|a|i)\s*\)|—|–", re.IGNORECASE)
_CLAUSE_START = re.compile(r";\s+|,\s+(?:and|but|while|whereas)\s+|\.\s+|\bbut\b|:\s", re.IGNORECASE)
_PURPOSE = re.compile(r"^(?:to|for)\s+\w+", re.IGNORECASE)
_PURPOSE_LEAD = re.compile(r"\b(?:use[sd]?|using|process\w*)\b[^.]{0,80}\b(?:to|for)\s*:$", re.IGNORECASE)
_PURPOSE_VERB = re.compile(r"(?:(?:to|for)\s+)?(?:re)?(?:train|improv|develop|creat|build|fine-?tun)\w*", re.I)
_VENDOR = re.compile(r"\b(?:we|us|our)\b", re.IGNORECASE)
_YOURS = re.compile(r"\b(?:your|customer)\b", re.IGNORECASE)
_IF_OPT_OUT = re.compile(r"\b(?:if|once|when|after) you(?:'ve| have)? (?:\w+ )?opt(?:s|ed)?[- ]?out\b", re.I)


# what any statement of `read` needs: a word TRAIN needs (`_could_train`), one NO_SERVICE_USE needs (its
# negation, `_could_refuse`) or one `_only_purpose` needs; none holds whitespace (see retention.NEEDS)
NEEDS = ("train", "fine", "model", "not", "n't", "never", "only", "solely", "exclusively", "purpose")


def _could_train(folded: str) -> bool:
    """False when TRAIN cannot match (tested on the lower case)."""
    if "train" in folded or "fine" in folded:  # (re)train..., fine-tune
        return True
    # improve/develop/build/create ... models ("model training" has "train")
    return "model" in folded and ("improv" in folded or "develop" in folded or "build" in folded or "creat" in folded)


# the words (lower case) at which a match of TRAIN can start, besides "re" before "train" ("retrain")
_TRAIN_STARTS = ("train", "fine", "improv", "develop", "build", "creat", "model")


def _search_train(text: str, folded: str | None) -> re.Match[str] | None:
    """TRAIN.search(text), tried from the first place where a match can start.

    A search from a position sees the characters before it (its lookbehind and word boundaries do), so
    it finds the first match at or after it: the first of the text when none can start before.
    """
    start = 0
    if folded is not None and len(folded) == len(text):  # positions in `folded` are those of `text`
        found = [at for at in map(folded.find, _TRAIN_STARTS) if at >= 0]
        if not found:
            return None
        start = max(0, min(found) - 2)  # "retrain" starts 2 characters before its "train"
    return TRAIN.search(text, start)


def _could_refuse(folded: str) -> bool:
    """False when NO_SERVICE_USE ("not/n't/never use ... to develop/improve") cannot match (on the lower case).

    Most sentences that hold "use" and "improve" say the vendor improves its services: without a
    negation they are told here, and neither pattern is tried.
    """
    return (
        ("develop" in folded or "improve" in folded)
        and "use" in folded
        and ("not" in folded or "n't" in folded or "never" in folded)
    )


def _only_purpose(text: str, folded: str | None) -> bool:
    """Whether the sentence says the customer's content is used only for the service (see the module doc)."""
    m = None
    if folded is None or "only" in folded or "solely" in folded or "exclusively" in folded:
        for m in ONLY_USE.finditer(text):
            if m.group("verb") or _USE_BEFORE.search(text, 0, m.start()):
                break  # "only use ..." or "used ... only to ..."
        else:
            m = None
    if m is None and (folded is None or ("purpose" in folded and _SOLE_WORDS.search(folded))):
        m = SOLE_PURPOSE.search(text)
    if m is None and (folded is None or "other purpose" in folded):
        m = NO_OTHER_PURPOSE.search(text)
    if m is None or not CONTENT_OBJECT.search(text):
        return False
    if CUSTOMER_SUBJECT.search(text, 0, m.start()):
        return False  # "You may only use outputs to ...": a rule for the customer
    return not OTHER_PURPOSE.search(text, m.start())


def read(unit: Unit, previous: str = "") -> list[tuple[str, str, int]]:
    """(value, condition, strength) of the training statements in one sentence.

    strength 2: a statement with a subject ("we do not use ...", "inputs are not used ...");
    strength 1: an item of a list of purposes ("To train and improve our models").
    """
    text = unit.clean
    folded = unit.folded
    m = _search_train(text, folded) if folded is None or _could_train(folded) else None
    if not m:
        if (folded is None or _could_refuse(folded)) and NO_SERVICE_USE.search(text):
            return [("no", "opt-in" if OPT_IN.search(text) else "default", 2)]
        if _only_purpose(text, folded):
            return [("no", "service-only", 2)]
        return []
    if EXCLUDING.search(text):
        return []
    if not MODEL.search(text) and not TRAIN_ON.search(text):
        return []
    # a line of a list of purposes: "To improve our services (including our AI models)", or an item
    # under "We use data to:" ("Improve or create services, including our AI models")
    listed = bool(unit.context) and _PURPOSE_LEAD.search(unit.context[-1]) is not None
    purpose = bool(_PURPOSE.match(text)) or "|" in text or listed
    if not USE_FOR_TRAINING.search(text) and not (purpose and _PURPOSE_VERB.match(text)):
        return []
    if (NOT_USER_DATA.search(text) or ("from" in text and OBTAINED.search(text))) and not _YOURS.search(
        text[: m.start()]
    ):
        return []
    if RETENTION_CRITERIA.search(text, 0, m.start()) and not _USE_VERB.search(text) and not _YOURS.search(text):
        return []  # "we decide how long to keep information based on how long it remains necessary for training"
    if _ANAPHORA.match(text) and NOT_USER_DATA.search(previous):
        return []  # "Consequently, we may use ..." continues a sentence about public data
    # the main clause: from the start of the clause holding the training verb to that verb
    starts = [c.end() for c in _CLAUSE_START.finditer(text, 0, m.start())]
    clause_start = starts[-1] if starts else 0
    main = text[clause_start : m.start()]
    subjects = list(CUSTOMER_SUBJECT.finditer(text, 0, m.start()))
    subject = subjects[-1] if subjects else None
    if subject is not None and not OPT_OUT.search(text) and not _VENDOR.search(text[subject.end() : m.start()]):
        return []  # a rule for the customer ("Customer shall not use Outputs to develop models")
    if not purpose and not USER_CONTENT.search(text):
        return []
    strength = 1 if purpose else 2
    lead = main
    cut = _MAIN_END.search(lead)
    if cut and cut.start() > 0:
        lead = lead[: cut.start()]
    negated = bool(NEGATION.search(lead))
    opt_out = OPT_OUT.search(text)
    if opt_out and (not negated or _IF_OPT_OUT.search(text)):
        return [("opt-out", "default", strength)]
    if negated:
        return [("no", "opt-in" if OPT_IN.search(text) else "default", strength)]
    if OPT_IN.search(text):
        return [("no", "opt-in", strength)]
    if FEEDBACK.search(text):
        return [("yes", "feedback", strength)]
    if FLAGGED.search(text):
        return [("yes", "abuse", strength)]
    return [("yes", "default", strength)]
