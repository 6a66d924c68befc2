"""THREAD (RFC 5256): ORDEREDSUBJECT, REFERENCES, and REFS as Dovecot does it.

Pure functions over `ThreadMessage` records (sequence number, UID, parsed
Message-ID / references, decoded subject, sent date). Trees are walked with
explicit stacks, so a reply chain thousands of messages deep cannot exhaust
Python's recursion limit.

REFS (draft-ietf-morg-inthread, as Dovecot implements it): the REFERENCES
steps 1-4 and 6 (links from References / In-Reply-To, dummies pruned), but
no merging of threads by subject, and the threads ordered by the sent date
of the latest message in each (ties by the first message's position).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from .sorting import base_subject, casemap

ALGORITHMS = ("ORDEREDSUBJECT", "REFERENCES", "REFS")
_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")
_MSG_ID = re.compile(r"<([^<>]*)>")
_SPACE = re.compile(r"\s+")


# -- message ids -------------------------------------------------------------------------
def message_ids(value: Optional[str]) -> list[str]:
    """The valid msg-ids of a header value, normalised (RFC 5256: quoting,
    comments and white space do not make two ids differ)."""
    if not value:
        return []
    text = value
    for _ in range(8):  # nested comments, innermost first
        stripped = _COMMENT.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    out = []
    for m in _MSG_ID.finditer(text):
        inner = _SPACE.sub("", m.group(1))
        left, at, right = inner.rpartition("@")
        if not at or not left or not right:
            continue
        left = re.sub(r'\\(.)', r"\1", left.replace('"', ""))
        out.append(f"{left}@{right}")
    return out


@dataclass
class ThreadMessage:
    seq: int
    uid: int
    message_id: Optional[str]
    references: list  # parent chain, oldest first (References, else In-Reply-To)
    subject: str  # decoded Subject value
    sent: float  # RFC 5256 sent date (Date, else INTERNALDATE) as a timestamp


def thread_message(seq: int, uid: int, header: Callable[[str], Optional[str]], sent: float) -> ThreadMessage:
    """A `ThreadMessage` from a header lookup (decoded values, None if absent)."""
    ids = message_ids(header("message-id"))
    refs = message_ids(header("references"))
    if not refs:
        refs = message_ids(header("in-reply-to"))[:1]
    return ThreadMessage(seq, uid, ids[0] if ids else None, refs, header("subject") or "", sent)


# -- the tree -----------------------------------------------------------------------------------
@dataclass(eq=False)
class Node:
    msg: Optional[ThreadMessage] = None  # None: a dummy (a message referred to but absent)
    parent: Optional["Node"] = None
    children: list = field(default_factory=list)

    def adopt(self, child: "Node") -> None:
        if child.parent is not None:
            child.parent.children.remove(child)
        child.parent = self
        self.children.append(child)

    def is_descendant_of(self, other: "Node") -> bool:
        node = self
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False


def _sort_key(node: Node) -> tuple:
    """Sent date, then mailbox order; a dummy sorts as its first child."""
    msg = node.msg
    if msg is None:
        msg = node.children[0].msg if node.children and node.children[0].msg else None
        if msg is None:
            return (0.0, 0)
    return (msg.sent, msg.seq)


def _walk(roots: list) -> list:
    """Every node under ``roots``, children after their parents (no recursion)."""
    out, stack = [], list(roots)
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def _sort_siblings(roots: list) -> None:
    """RFC 5256 step 6: every set of siblings by sent date, deepest first."""
    for node in reversed(_walk(roots)):
        if len(node.children) > 1:
            node.children.sort(key=_sort_key)
    roots.sort(key=_sort_key)


# -- REFERENCES / REFS ---------------------------------------------------------------------
def _link(messages: list) -> list:
    """Steps 1-2: containers linked by references; the root set."""
    table: dict[str, Node] = {}
    nodes = []
    for msg in sorted(messages, key=lambda m: m.seq):
        key = msg.message_id
        if key is None or (key in table and table[key].msg is not None):
            key = f"\0unique-{msg.seq}"  # missing or duplicate Message-ID
        node = table.get(key)
        if node is None:
            node = table[key] = Node()
        node.msg = msg
        nodes.append(node)
    for node in nodes:
        refs = []
        for ref in node.msg.references:
            ref_node = table.get(ref)
            if ref_node is None:
                ref_node = table[ref] = Node()
            refs.append(ref_node)
        # (A) each reference is the parent of the next one, unless it has a
        # parent already or the link would make a loop
        for parent, child in zip(refs, refs[1:]):
            if child.parent is None and parent is not child and not parent.is_descendant_of(child):
                parent.adopt(child)
        # (B) the last reference is the parent of this message; a parent set
        # by another message's References (maybe truncated) is replaced
        if node.parent is not None:
            node.parent.children.remove(node)
            node.parent = None
        if refs:
            last = refs[-1]
            if last is not node and not last.is_descendant_of(node):
                last.adopt(node)
    return [n for n in table.values() if n.parent is None]


def _prune(roots: list) -> list:
    """Step 3: dummies without children go; a dummy's children take its
    place, except at the top when there is more than one of them."""
    for node in reversed(_walk(roots)):  # children before their parents
        kept = []
        for child in node.children:
            if child.msg is None:
                for grandchild in child.children:
                    grandchild.parent = node
                kept.extend(child.children)
            else:
                kept.append(child)
        node.children = kept
    out = []
    for node in roots:
        if node.msg is None:
            if not node.children:
                continue
            if len(node.children) == 1:
                child = node.children[0]
                child.parent = None
                out.append(child)
                continue
        out.append(node)
    return out


def _thread_subject(node: Node) -> tuple[str, bool]:
    """(case-mapped base subject, reply or forward) of a thread's head (a
    dummy's first child)."""
    msg = node.msg if node.msg is not None else node.children[0].msg
    base, reply = base_subject(msg.subject)
    return casemap(base), reply


def _gather_subjects(roots: list) -> list:
    """Step 5: threads whose heads have the same base subject are merged."""
    subjects = {id(node): _thread_subject(node) for node in roots}
    table: dict[str, Node] = {}
    for node in roots:  # (B) one thread per subject: dummies first, then non-replies
        subject, reply = subjects[id(node)]
        if not subject:
            continue
        held = table.get(subject)
        if held is None:
            table[subject] = node
        elif held.msg is not None and (node.msg is None or (subjects[id(held)][1] and not reply)):
            table[subject] = node
    removed: set[int] = set()
    replaced: dict[int, Node] = {}  # a new dummy takes the place of the thread it holds
    for node in roots:  # (C)
        if id(node) in removed:
            continue
        subject, reply = subjects[id(node)]
        held = table.get(subject) if subject else None
        if held is None or held is node:
            continue
        removed.add(id(node))
        if node.msg is None and held.msg is None:
            for child in list(node.children):
                held.adopt(child)
        elif held.msg is None or (reply and not subjects[id(held)][1]):
            held.adopt(node)
        else:
            dummy = Node()
            replaced[id(held)] = dummy
            dummy.adopt(held)
            dummy.adopt(node)
            table[subject] = dummy
    out = [replaced.get(id(node), node) for node in roots if id(node) not in removed]
    for node in out:
        node.parent = None
    return out


def thread_references(messages: Iterable[ThreadMessage]) -> list:
    roots = _prune(_link(list(messages)))
    for node in roots:  # step 4: a dummy is placed by its first child
        if node.msg is None:
            node.children.sort(key=_sort_key)
    roots.sort(key=_sort_key)
    roots = _gather_subjects(roots)
    _sort_siblings(roots)
    return roots


def thread_refs(messages: Iterable[ThreadMessage]) -> list:
    roots = _prune(_link(list(messages)))
    _sort_siblings(roots)

    def latest(root: Node) -> tuple:
        newest = max(n.msg.sent for n in _walk([root]) if n.msg is not None)
        return (newest,) + _sort_key(root)[1:]

    roots.sort(key=latest)
    return roots


# -- ORDEREDSUBJECT ----------------------------------------------------------------------------
def thread_orderedsubject(messages: Iterable[ThreadMessage]) -> list:
    """Messages grouped by base subject; the first (by sent date) of each
    group is the parent of the others; groups by their first's sent date."""
    groups: dict[str, list] = {}
    for msg in messages:
        groups.setdefault(casemap(base_subject(msg.subject)[0]), []).append(msg)
    roots = []
    for members in groups.values():
        members.sort(key=lambda m: (m.sent, m.seq))
        head = Node(members[0])
        for msg in members[1:]:
            head.adopt(Node(msg))
        roots.append(head)
    roots.sort(key=_sort_key)
    return roots


def build_threads(algorithm: str, messages: Iterable[ThreadMessage]) -> list:
    if algorithm == "ORDEREDSUBJECT":
        return thread_orderedsubject(messages)
    if algorithm == "REFERENCES":
        return thread_references(messages)
    if algorithm == "REFS":
        return thread_refs(messages)
    raise ValueError(f"unknown threading algorithm {algorithm}")


# -- the THREAD response -------------------------------------------------------------------------
def format_threads(roots: list, number: Callable[[ThreadMessage], int]) -> str:
    """``(1 2)(3 (4)(5 6))``: a parent followed by its only child, or by its
    children each in parentheses (RFC 5256 thread-list)."""
    out: list[str] = []
    stack: list = []  # work items: a node to write, or a literal "(" / ")"
    for root in reversed(roots):
        stack.extend([")", root, "("])
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        node = item
        while True:  # a chain of only children is written inline
            if node.msg is not None:
                if out[-1] != "(":
                    out.append(" ")
                out.append(str(number(node.msg)))
            kids = node.children
            if len(kids) == 1:
                node = kids[0]
                continue
            if kids:
                if node.msg is not None:
                    out.append(" ")
                for kid in reversed(kids):
                    stack.extend([")", kid, "("])
            break
    return "".join(out)
