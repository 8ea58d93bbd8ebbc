"""Build the bundled fixtures: QA and sentence-pair data, the WordPiece vocab, tiny BERT configs.

    python scripts/build_fixtures.py [--out DIR]

Everything is generated from templates and entity pools with seeded ``random.Random`` streams, JSON is
written with a fixed key order and the vocab trainer sees the corpus in a fixed order, so running the
script twice gives byte-identical files.

QA contexts are short biographies (born in X, works as Y, favourite colour Z, ...) mixed with filler
sentences, half English and half Korean. Korean text is written KLUE-MRC style, with particles attached
to the word they follow (``부산에서 태어났다``), so the answer ``부산`` is only part of a whitespace
word. Templates mark those morpheme boundaries with ``|`` (and a ``{field:particle}`` spec picks the
particle form that fits the word); the vocab is trained on the text split at those boundaries, the way
KLUE segmented morphemes before training its WordPiece vocab, so every answer ends on a token boundary.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SEED = 20240607
REPO_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# A tiny BERT trained from scratch memorises a few hundred examples instead of learning the pattern;
# these sizes are what it needs to generalise (EM >= 80, pair accuracy >= 0.8) in 1-2 CPU minutes.
QA_TRAIN_CONTEXTS = 800  # two questions each, half English and half Korean
QA_VALIDATION_CONTEXTS = 50
QA_V2_CONTEXTS = 16
QUESTIONS_PER_CONTEXT = 2
LONG_CONTEXT_SHARE = 0.22  # contexts with enough filler to need several 128-token windows
SHORT_FILLERS = (0, 3)
LONG_FILLERS = (13, 17)
HELD_OUT_SHARE = 0.1  # validation answers drawn from values never seen in training
PAIR_TRAIN = 2000
PAIR_VALIDATION = 100

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BPE_VOCAB_SIZE = 1500  # subword pieces learned by the trainer; the WordPiece vocab adds ## forms
MORPHEME = "|"

# ---------------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------------

# Korean particles with two forms: (after a final consonant, after a vowel).
ALTERNATING_PARTICLES = {
    "은": ("은", "는"),
    "이": ("이", "가"),
    "을": ("을", "를"),
    "과": ("과", "와"),
    "이다": ("이다", "다"),
    "으로": ("으로", "로"),
}
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
RIEUL_FINAL = 8  # 으로 becomes 로 after a final ㄹ as well as after a vowel


def particle_form(word: str, particle: str) -> str:
    """The form of ``particle`` that follows ``word`` (은/는, 이/가, 을/를, 으로/로, ...)."""
    if particle not in ALTERNATING_PARTICLES:
        return particle
    after_consonant, after_vowel = ALTERNATING_PARTICLES[particle]
    last = ord(word[-1])
    final = (last - HANGUL_FIRST) % 28 if HANGUL_FIRST <= last <= HANGUL_LAST else 0
    if particle == "으로" and final == RIEUL_FINAL:
        return after_vowel
    return after_consonant if final else after_vowel


@dataclass(frozen=True)
class Filled:
    """A filled template: the text, the same text split at morpheme boundaries, and field spans."""

    text: str
    morphemes: str
    spans: dict[str, tuple[int, int]]


def fill(template: str, values: dict[str, str]) -> Filled:
    """Fill ``{field}`` / ``{field:particle}`` slots, recording where each value lands in the text."""
    text, morphemes, spans = "", "", {}
    for literal, field, particle, _ in string.Formatter().parse(template):
        text += literal.replace(MORPHEME, "")
        morphemes += literal.replace(MORPHEME, " ")
        if field is None:
            continue
        value = values[field]
        spans[field] = (len(text), len(text) + len(value.replace(MORPHEME, "")))
        text += value.replace(MORPHEME, "")
        morphemes += value.replace(MORPHEME, " ")
        if particle:
            form = particle_form(value, particle)
            text += form
            morphemes += " " + form
    return Filled(text, morphemes, spans)


def continuation_pieces(templates: Iterable[str]) -> set[str]:
    """Pieces glued to the previous morpheme in the text (particles, suffixes): they need ``##`` forms."""
    pieces = set()
    for template in templates:
        for literal, _field, particle, _ in string.Formatter().parse(template):
            for chunk in literal.split(MORPHEME)[1:]:
                pieces.add(chunk.split(" ")[0])
            if particle:
                pieces.update(ALTERNATING_PARTICLES.get(particle, (particle,)))
    pieces.discard("")
    return pieces


# ---------------------------------------------------------------------------------------------------
# QA: people with six relations, in English and Korean
# ---------------------------------------------------------------------------------------------------

RELATIONS = ("city", "job", "employer", "colour", "food", "pets")


@dataclass(frozen=True)
class Entity:
    """A relation value; ``alias`` is a shorter span inside it that also counts as a gold answer."""

    text: str
    alias: str | None = None


@dataclass(frozen=True)
class Pool:
    """Values seen in training and values kept for validation (new answers for the model)."""

    shared: tuple[Entity, ...]
    held_out: tuple[Entity, ...] = ()


def pool(shared: str, held_out: str = "", aliases: dict[str, str] | None = None) -> Pool:
    """A pool from ``;``-separated values; ``aliases`` maps a value to its shorter gold alias."""
    aliases = aliases or {}

    def entities(values: str) -> tuple[Entity, ...]:
        names = [value.strip() for value in values.split(";") if value.strip()]
        return tuple(Entity(name, aliases.get(name)) for name in names)

    return Pool(entities(shared), entities(held_out))


@dataclass(frozen=True)
class Language:
    code: str
    names: tuple[str, ...]
    pools: dict[str, Pool]
    facts: dict[str, tuple[str, ...]]  # relation -> context sentence templates
    questions: dict[str, tuple[str, ...]]  # relation -> question templates
    fillers: tuple[str, ...]

    def templates(self) -> Iterator[str]:
        yield from self.fillers
        for relation in RELATIONS:
            yield from self.facts[relation]
            yield from self.questions[relation]


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ENGLISH_FIRST = words(
    "Anna Ben Clara David Elena Felix Grace Hugo Iris Jonas Karen Leo Maria Nina Oscar Paula Quinn Rosa Sam Tara "
    "Victor Wendy Yusuf Zoe Omar Lena"
)
ENGLISH_LAST = words(
    "Berg Carter Diaz Evans Fischer Garcia Hansen Ito Jensen Kowalski Lopez Moreau Novak Okafor Park Rossi Schmidt "
    "Tanaka Walsh Young"
)
KOREAN_NAMES = words(
    "김민준 이서연 박지호 최수아 정예준 강하은 조도윤 윤서윤 장시우 임지유 한지민 오현우 서지훈 신유나 권태양 송하늘 "
    "문가영 배준서 류소라 홍길동 남궁민 백지원 안세영 전소민"
)

ENGLISH = Language(
    code="en",
    names=tuple(f"{first} {last}" for first in ENGLISH_FIRST for last in ENGLISH_LAST),
    pools={
        "city": pool(
            "Paris; London; Berlin; Madrid; Rome; Oslo; Dublin; Chicago; Boston; New York City; Los Angeles;"
            "Rio de Janeiro; Cape Town",
            "Reykjavik; Montreal; Kyoto",
            {"New York City": "New York", "Rio de Janeiro": "Rio"},
        ),
        "job": pool(
            "teacher; nurse; doctor; lawyer; pilot; baker; farmer; architect; bus driver; police officer; head chef;"
            "senior software engineer",
            "translator; carpenter; firefighter",
            {"head chef": "chef", "senior software engineer": "software engineer"},
        ),
        "employer": pool(
            "Acme Corp; Globex; Initech; Blue River Bank; Green Leaf Foods; Silver Line Rail; Redwood Labs;"
            "Summit Health; Cedar Tech; Northwind Traders Ltd; Golden Gate Insurance",
            "Nimbus Air; Orion Motors; Quartz Systems",
            {"Northwind Traders Ltd": "Northwind Traders"},
        ),
        "colour": pool(
            "red; blue; green; yellow; purple; orange; black; white; pink; grey; dark blue; light green",
            "violet; turquoise; crimson",
            {"dark blue": "blue", "light green": "green"},
        ),
        "food": pool(
            "pizza; sushi; pasta; tacos; curry; ramen; paella; dumplings; pancakes; fried rice; fish and chips;"
            "chicken soup",
            "risotto; goulash; moussaka",
            {"chicken soup": "soup"},
        ),
        "pets": pool("two; three; four; five; six; seven; eight; nine", "ten; eleven"),
    },
    facts={
        "city": (
            "{name} was born in {city}.",
            "Born in {city}, {name} moved away at a young age.",
            "{name} was born in {city} and grew up there.",
        ),
        "job": (
            "{name} works as {article} {job}.",
            "By profession, {name} is {article} {job}.",
        ),
        "employer": (
            "{name} works for {employer}.",
            "{name} is employed by {employer} (the main office).",
        ),
        "colour": (
            "{name}'s favourite colour is {colour}.",
            "The colour {name} likes best is {colour}, without a doubt.",
        ),
        "food": (
            "{name}'s favourite food is {food}.",
            "{name} loves eating {food} more than anything.",
        ),
        "pets": (
            "{name} has {pets} pets.",
            "At home, {name} keeps {pets} pets (mostly cats).",
        ),
    },
    questions={
        "city": ("Where was {name} born?", "In which city was {name} born?", "What is {name}'s birthplace?"),
        "job": ("What does {name} do for a living?", "What is {name}'s job?", "What is the occupation of {name}?"),
        "employer": ("Which company does {name} work for?", "Who employs {name}?", "Where does {name} work?"),
        "colour": ("What is {name}'s favourite colour?", "Which colour does {name} like best?"),
        "food": ("What is {name}'s favourite food?", "What does {name} like to eat most?"),
        "pets": ("How many pets does {name} have?", "How many pets does {name} own?"),
    },
    fillers=(
        "{name} enjoys long walks in the park.",
        "The neighbourhood has a small library.",
        "Every morning, {name} reads the newspaper.",
        "Last summer was unusually warm.",
        "{name} once tried to learn to paint.",
        "Most of {name}'s friends are kind and patient.",
        "There is an old bridge near the river.",
        "{name} drinks coffee almost every day.",
        "Each spring, {name} goes on a short trip.",
        "{name} keeps a diary and writes in it often.",
        "The local market closes early on Sundays.",
        "As a child, {name} learned to swim.",
        "{name}'s house stands on a quiet hill.",
        "The neighbours remember {name} as a kind person.",
        "In the evening, {name} often listens to music.",
        "Winters there are long and snowy.",
        "These days {name} is studying a new language.",
        "The area is calm and peaceful.",
        "{name} enjoys taking photos of old buildings.",
        "Sometimes {name} watches old films at night.",
    ),
)

KOREAN = Language(
    code="ko",
    names=KOREAN_NAMES,
    pools={
        "city": pool(
            "서울; 부산; 대구; 인천; 광주; 대전; 울산; 수원; 전주; 춘천; 포항|시; 강릉",
            "제주; 순천; 속초",
            {"포항|시": "포항"},
        ),
        "job": pool(
            "요리사; 의사; 교사; 간호사; 변호사; 기자; 소방관; 경찰관; 약사; 화가; 버스 운전기사; 초등학교 교사;"
            "소프트웨어 개발자",
            "번역가; 수의사; 목수",
            {"초등학교 교사": "교사", "소프트웨어 개발자": "개발자"},
        ),
        "employer": pool(
            "한빛전자; 미래은행; 푸른건설; 새싹출판사; 하나물산; 바다항공; 별빛식품; 누리통신; 한강제약; 산들여행사;"
            "다온게임즈",
            "은하자동차; 솔빛병원; 가람보험",
        ),
        "colour": pool(
            "파란색; 빨간색; 노란색; 초록색; 보라색; 검은색; 흰색; 주황색; 분홍색; 회색; 진한 파란색",
            "남색; 연두색; 금색",
            {"진한 파란색": "파란색"},
        ),
        "food": pool(
            "김치찌개; 비빔밥; 불고기; 떡볶이; 냉면; 삼겹살; 된장찌개; 잡채; 갈비탕; 짜장면; 칼국수; 김밥",
            "부대찌개; 닭갈비; 콩국수",
        ),
        "pets": pool("2마리; 3마리; 4마리; 5마리; 6마리; 7마리; 8마리; 9마리", "10마리; 11마리"),
    },
    facts={
        "city": ("{name:은} {city:에서} 태어났다.", "{name:의} 고향은 {city:이다}."),
        "job": ("{name:은} {job:으로} 일한다.", "{name:의} 직업은 {job:이다}."),
        "employer": ("{name:은} {employer:에서} 근무한다.", "{name:이} 다니는 회사는 {employer:이다}."),
        "colour": ("{name:이} 가장 좋아하는 색은 {colour:이다}.", "{name:은} {colour:을} 무척 좋아한다."),
        "food": ("{name:이} 가장 좋아하는 음식은 {food:이다}.", "{name:은} {food:을} 가장 즐겨 먹는다."),
        "pets": ("{name:은} 반려동물 {pets:을} 키운다.", "{name:의} 집에는 반려동물이 {pets:이} 있다."),
    },
    questions={
        "city": ("{name:은} 어디에서 태어났는가?", "{name:의} 고향은 어디인가?"),
        "job": ("{name:의} 직업은 무엇인가?", "{name:은} 어떤 일을 하는가?"),
        "employer": ("{name:은} 어느 회사에 다니는가?", "{name:이} 근무하는 회사는 어디인가?"),
        "colour": ("{name:이} 가장 좋아하는 색은 무엇인가?", "{name:은} 무슨 색을 가장 좋아하는가?"),
        "food": ("{name:이} 가장 좋아하는 음식은 무엇인가?", "{name:은} 어떤 음식을 가장 즐겨 먹는가?"),
        "pets": ("{name:은} 반려동물을 몇 마리 키우는가?", "{name:의} 반려동물은 몇 마리인가?"),
    },
    fillers=(
        "{name:은} 주말|마다 공원|을 산책한다.",
        "그 동네|에는 작은 도서관|이 있다.",
        "{name:은} 아침|마다 신문|을 읽는다.",
        "작년 여름|은 유난히 더웠다.",
        "{name:은} 한때 그림|을 배우려고 했다.",
        "{name:의} 친구|들은 모두 친절하다.",
        "그 마을|에는 오래된 다리|가 하나 있다.",
        "{name:은} 커피|를 자주 마신다.",
        "{name:은} 매년 봄|에 짧은 여행|을 떠난다.",
        "{name:은} 일기|를 꾸준히 쓴다.",
        "근처 시장|은 일요일|에 일찍 문|을 닫는다.",
        "{name:은} 어릴 때 수영|을 배웠다.",
        "{name:의} 집|은 조용한 언덕 위|에 있다.",
        "이웃|들은 {name:을} 성실한 사람|으로 기억한다.",
        "{name:은} 저녁|에 음악|을 자주 듣는다.",
        "그곳|의 겨울|은 길고 눈|이 많이 내린다.",
        "{name:은} 요즘 새로운 언어|를 공부한다.",
        "그 지역|은 조용하고 평화롭다.",
        "{name:은} 오래된 건물 사진|을 즐겨 찍는다.",
        "{name:은} 가끔 밤|에 오래된 영화|를 본다.",
    ),
)

LANGUAGES = (ENGLISH, KOREAN)


def english_article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" else "a"


@dataclass(frozen=True)
class Person:
    name: str
    values: dict[str, Entity]


def draw_person(rng: random.Random, language: Language, *, held_out: bool) -> Person:
    """A person; with ``held_out`` each value comes from the validation-only part of its pool with
    probability ``HELD_OUT_SHARE``."""
    values = {}
    for relation in RELATIONS:
        entities = language.pools[relation]
        use_held_out = held_out and rng.random() < HELD_OUT_SHARE
        values[relation] = rng.choice(entities.held_out if use_held_out else entities.shared)
    return Person(rng.choice(language.names), values)


def template_values(person: Person) -> dict[str, str]:
    values = {relation: entity.text for relation, entity in person.values.items()}
    values["name"] = person.name
    values["article"] = english_article(person.values["job"].text)
    return values


@dataclass(frozen=True)
class Context:
    text: str
    morphemes: str
    spans: dict[str, tuple[int, int]]  # relation -> where its value is in ``text``


def build_context(
    rng: random.Random, language: Language, person: Person, fillers: int, omit: Sequence[str] = ()
) -> Context:
    """One fact sentence per relation (minus ``omit``) and ``fillers`` filler sentences, shuffled."""
    values = template_values(person)
    sentences = [fill(rng.choice(language.facts[relation]), values) for relation in RELATIONS if relation not in omit]
    sentences += [fill(template, values) for template in rng.sample(language.fillers, fillers)]
    rng.shuffle(sentences)
    text, morphemes, spans = "", "", {}
    for sentence in sentences:
        if text:
            text += " "
            morphemes += " "
        for relation, (start, end) in sentence.spans.items():
            if relation in RELATIONS:
                spans[relation] = (len(text) + start, len(text) + end)
        text += sentence.text
        morphemes += sentence.morphemes
    return Context(text, morphemes, spans)


def gold_answers(context: Context, entity: Entity, relation: str, *, with_alias: bool) -> dict[str, list]:
    start, end = context.spans[relation]
    texts, starts = [context.text[start:end]], [start]
    if with_alias and entity.alias is not None:
        texts.append(entity.alias)
        starts.append(start + texts[0].index(entity.alias))
    return {"text": texts, "answer_start": starts}


NO_ANSWER: dict[str, list] = {"text": [], "answer_start": []}


def long_context_flags(rng: random.Random, count: int) -> list[bool]:
    """Exactly ``LONG_CONTEXT_SHARE`` of ``count`` contexts are long, in a shuffled order."""
    flags = [index < round(count * LONG_CONTEXT_SHARE) for index in range(count)]
    rng.shuffle(flags)
    return flags


@dataclass
class QaSplit:
    records: list[dict]
    morphemes: list[str]  # the split's text as the vocab trainer sees it


def build_qa_split(rng: random.Random, split: str, contexts: int, *, unanswerable: bool = False) -> QaSplit:
    """``contexts`` contexts per language with two questions each (the first language first, then the next).

    Validation draws answers from held-out values too and keeps alias answers. With ``unanswerable``, two
    contexts in three leave out one of the relations asked about, which makes that question unanswerable
    (SQuAD v2)."""
    split_data = QaSplit([], [])
    validation = split != "train"
    for language in LANGUAGES:
        for number, long in enumerate(long_context_flags(rng, contexts)):
            person = draw_person(rng, language, held_out=validation)
            asked = rng.sample(RELATIONS, QUESTIONS_PER_CONTEXT)
            omit = [asked[number % 2]] if unanswerable and number % 3 != 0 else []
            fillers = rng.randint(*(LONG_FILLERS if long else SHORT_FILLERS))
            context = build_context(rng, language, person, fillers, omit)
            split_data.morphemes.append(context.morphemes)
            for relation in asked:
                question = fill(rng.choice(language.questions[relation]), template_values(person))
                split_data.morphemes.append(question.morphemes)
                answers = (
                    NO_ANSWER
                    if relation in omit
                    else gold_answers(context, person.values[relation], relation, with_alias=validation)
                )
                split_data.records.append(
                    {
                        "id": f"{language.code}-{split}-{number:04d}-{relation}",
                        "title": person.name,
                        "question": question.text,
                        "context": context.text,
                        "answers": answers,
                    }
                )
    return split_data


# ---------------------------------------------------------------------------------------------------
# Sentence pairs: one event, rewritten (paraphrase) or another event on the same topic (not one)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verb:
    past: tuple[str, ...]  # synonyms, simple past
    participle: tuple[str, ...]  # the same synonyms, past participle


VERBS = (
    Verb(("bought", "purchased"), ("bought", "purchased")),
    Verb(("sold",), ("sold",)),
    Verb(("ordered", "requested"), ("ordered", "requested")),
    Verb(("delivered", "shipped"), ("delivered", "shipped")),
    Verb(("donated", "gave away"), ("donated", "given away")),
    Verb(("repaired", "fixed"), ("repaired", "fixed")),
    Verb(("rented", "leased"), ("rented", "leased")),
    Verb(("returned", "sent back"), ("returned", "sent back")),
    Verb(("painted",), ("painted",)),
    Verb(("built", "made"), ("built", "made")),
)
AGENTS = (
    ("the company", "the firm"),
    ("the city council", "the council"),
    ("the museum",),
    ("the school", "the academy"),
    ("the bakery",),
    ("the hospital", "the clinic"),
    ("the airline",),
    ("the library",),
    ("the farm",),
    ("the bank",),
    ("the hotel",),
    ("the university", "the college"),
)
OBJECTS = ("cars", "bikes", "computers", "chairs", "boats", "trucks", "tables", "printers", "lamps", "pianos")
NUMBERS = ("12", "20", "35", "40", "48", "60", "75", "100", "150", "200", "300", "500")
PLACES = ("Paris", "Berlin", "Madrid", "Boston", "Chicago", "Toronto", "Denver", "Dublin", "Oslo", "Prague")
TIMES = ("on Monday", "on Friday", "last week", "last year", "in May", "in October", "yesterday", "this morning")
PAIR_SLOTS = ("agent", "verb", "number", "object", "place", "time")
# Fewer changed facts are too subtle for a tiny model to learn from scratch in a few minutes.
CHANGED_FACTS = 4

PAIR_FORMS = (
    "{Agent} {past} {number} {object} in {place} {time}.",
    "{Time}, {agent} {past} {number} {object} in {place}.",
    "{Number} {object} were {participle} by {agent} in {place} {time}.",
    "In {place}, {agent} {past} {number} {object} {time}.",
)


@dataclass(frozen=True)
class Event:
    agent: tuple[str, ...]
    verb: Verb
    number: str
    object: str
    place: str
    time: str


def draw_event(rng: random.Random) -> Event:
    return Event(
        rng.choice(AGENTS),
        rng.choice(VERBS),
        rng.choice(NUMBERS),
        rng.choice(OBJECTS),
        rng.choice(PLACES),
        rng.choice(TIMES),
    )


def change_facts(rng: random.Random, event: Event) -> Event:
    """Another event on the same topic: ``CHANGED_FACTS`` of who, what happened, how many, what, where
    and when are replaced."""
    pools = {"agent": AGENTS, "verb": VERBS, "number": NUMBERS, "object": OBJECTS, "place": PLACES, "time": TIMES}
    changes = {}
    for slot in rng.sample(PAIR_SLOTS, CHANGED_FACTS):
        current = getattr(event, slot)
        changes[slot] = rng.choice([value for value in pools[slot] if value != current])
    return dataclasses.replace(event, **changes)


def capitalised(text: str) -> str:
    return text[0].upper() + text[1:]


def render_event(rng: random.Random, event: Event, form: str) -> str:
    """``event`` in sentence form ``form``, with a random synonym for the agent and the verb."""
    synonym = rng.randrange(len(event.verb.past))
    agent = rng.choice(event.agent)
    values = {
        "agent": agent,
        "Agent": capitalised(agent),
        "past": event.verb.past[synonym],
        "participle": event.verb.participle[synonym],
        "number": event.number,
        "Number": event.number,
        "object": event.object,
        "place": event.place,
        "time": event.time,
        "Time": capitalised(event.time),
    }
    return form.format(**values)


def build_pair_split(rng: random.Random, size: int) -> list[dict]:
    """Balanced pairs: both sentences are rewrites (different sentence forms) of one event, or the second
    one describes another event that shares two facts with it. Both labels use the same rewrites (sentence
    forms, synonyms), so only the facts tell them apart."""
    labels = [index % 2 for index in range(size)]
    rng.shuffle(labels)
    records = []
    for idx, label in enumerate(labels):
        event = draw_event(rng)
        first_form, second_form = rng.sample(PAIR_FORMS, 2)
        second_event = event if label == 1 else change_facts(rng, event)
        records.append(
            {
                "idx": idx,
                "sentence1": render_event(rng, event, first_form),
                "sentence2": render_event(rng, second_event, second_form),
                "label": label,
            }
        )
    return records


# ---------------------------------------------------------------------------------------------------
# Vocab and configs
# ---------------------------------------------------------------------------------------------------


def train_vocab(corpus: Sequence[str], continuations: Iterable[str]) -> list[str]:
    """A cased WordPiece vocab from the morpheme-split corpus, plus ``##`` forms of the glued pieces.

    The subword pieces are learned by the ``tokenizers`` BPE trainer and turned into WordPiece entries:
    a piece that starts a word keeps its form, a piece inside a word gets ``##``. The trainer never sees
    a particle glued to its word, so no piece crosses a stem/particle boundary; adding ``##`` forms of the
    particles (and of every character, so nothing is ever [UNK]) then lets the tokenizer split
    ``부산에서`` into ``부산`` + ``##에서`` on the text as written."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    # Casing kept and accents left alone: lowercasing/accent stripping would NFD-decompose Hangul.
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    # No continuing-subword prefix: with one, the trainer numbers the "##" characters in hash order and
    # breaks ties between equally frequent merges differently on every run.
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB_SIZE, special_tokens=SPECIAL_TOKENS, show_progress=False)
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    entries = set()
    for word in sorted(corpus_words(tokenizer, corpus)):
        first, *rest = (token.value for token in tokenizer.model.tokenize(word))
        entries.add(first)
        entries.update(f"##{piece}" for piece in rest)
    characters = {char for word in corpus_words(tokenizer, corpus) for char in word}
    entries |= characters | {f"##{char}" for char in characters} | {f"##{piece}" for piece in continuations}
    return SPECIAL_TOKENS + sorted(entries - set(SPECIAL_TOKENS))


def corpus_words(tokenizer: object, corpus: Iterable[str]) -> set[str]:
    """The distinct words of ``corpus`` after BERT normalization and pre-tokenization."""
    words = set()
    for line in corpus:
        normalized = tokenizer.normalizer.normalize_str(line)
        words.update(word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalized))
    return words


def bert_config(vocab_size: int, architecture: str, labels: dict[int, str]) -> dict:
    """A tiny BertConfig as JSON, small enough to train from scratch in a minute or two on a CPU."""
    return {
        "architectures": [architecture],
        "model_type": "bert",
        "vocab_size": vocab_size,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 128,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 256,
        "type_vocab_size": 2,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
        "id2label": {str(index): name for index, name in labels.items()},
        "label2id": {name: index for index, name in labels.items()},
    }


# ---------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(record, ensure_ascii=False) + "\n" for record in records]
    path.write_text("".join(lines), encoding="utf-8")


def write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_lines(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def build(out: Path) -> None:
    """Write every fixture file under ``out``."""
    qa_train = build_qa_split(random.Random(f"{SEED}-qa-train"), "train", QA_TRAIN_CONTEXTS // 2)
    qa_validation = build_qa_split(random.Random(f"{SEED}-qa-validation"), "validation", QA_VALIDATION_CONTEXTS // 2)
    qa_v2 = build_qa_split(random.Random(f"{SEED}-qa-v2"), "validation_v2", QA_V2_CONTEXTS // 2, unanswerable=True)
    pair_train = build_pair_split(random.Random(f"{SEED}-pair-train"), PAIR_TRAIN)
    pair_validation = build_pair_split(random.Random(f"{SEED}-pair-validation"), PAIR_VALIDATION)

    write_jsonl(out / "qa" / "train.jsonl", qa_train.records)
    write_jsonl(out / "qa" / "validation.jsonl", qa_validation.records)
    write_jsonl(out / "qa" / "validation_v2.jsonl", qa_v2.records)
    write_jsonl(out / "pair" / "train.jsonl", pair_train)
    write_jsonl(out / "pair" / "validation.jsonl", pair_validation)

    corpus = [*qa_train.morphemes, *qa_validation.morphemes, *qa_v2.morphemes]
    corpus += [record[key] for record in [*pair_train, *pair_validation] for key in ("sentence1", "sentence2")]
    templates = [template for language in LANGUAGES for template in language.templates()]
    templates += [
        entity.text
        for language in LANGUAGES
        for entities in language.pools.values()
        for entity in (*entities.shared, *entities.held_out)
    ]
    vocab = train_vocab(corpus, continuation_pieces(templates))
    write_lines(out / "vocab" / "vocab.txt", vocab)

    write_json(
        out / "configs" / "tiny-bert-qa.json",
        bert_config(len(vocab), "BertForQuestionAnswering", {0: "LABEL_0", 1: "LABEL_1"}),
    )
    write_json(
        out / "configs" / "tiny-bert-pair.json",
        bert_config(len(vocab), "BertForSequenceClassification", {0: "not_equivalent", 1: "equivalent"}),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_FIXTURES, help="fixtures directory (default: %(default)s)")
    build(parser.parse_args(argv).out)


if __name__ == "__main__":
    main()
