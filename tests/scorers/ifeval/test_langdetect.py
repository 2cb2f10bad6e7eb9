"""turnscope's language detection against langdetect itself, seeded as before.

`_langdetect.detect` must return what `langdetect` returns with `DetectorFactory.seed = 0`
(the way `_text.detect_language` called it before it had its own implementation), on every
kind of text: chat answers, capitals, lower case, 35 languages in 13 scripts, mixed scripts,
URLs and e-mail addresses, symbols, blanks, single characters, and texts past langdetect's
10,000-character limit.
"""

from __future__ import annotations

import random
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import LangDetectException
from langdetect.utils.ngram import NGram

from turnscope.scorers.ifeval import _langdetect

# Common words, written for this test. Scripts written without spaces are joined without.
LATIN = {
    "fr": "le la les une des et est dans pour avec sur pas plus être avoir faire nous vous "
    "elle très aussi mais comme tout bien temps jour maison école travail ville monde vie "
    "année déjà où ça été même après français garçon leçon",
    "de": "der die das und ist nicht ein eine mit auf für von sich auch wir noch nach über "
    "wenn schon sehr gut Haus Zeit Jahr Stadt Arbeit Welt Leben müssen können größer Straße "
    "Mädchen heißt",
    "es": "el los las una y es en por con para no más ser estar tener hacer muy también "
    "pero como todo bien tiempo día casa escuela trabajo ciudad mundo vida año niño señor "
    "aquí está mañana",
    "it": "il lo gli le un una è in per con non più essere avere fare molto anche ma come "
    "tutto bene tempo giorno casa scuola lavoro città mondo vita anno perché così",
    "pt": "o os as um uma e é em por com para não mais ser estar ter fazer muito também "
    "mas como tudo bem tempo dia casa escola trabalho cidade mundo vida ano são então você "
    "coração",
    "nl": "de het een en is van in op voor met niet zijn hebben worden ook maar als dat die "
    "wat heel goed tijd dag huis school werk stad wereld leven jaar nog altijd gezellig",
    "sv": "och att det som en på är av för med till den har inte om ett men var jag så kan "
    "man också när bara vad mycket hus tid dag skola arbete stad värld liv år där",
    "da": "og at det som en på er af for med til den har ikke om et men var jeg så kan man "
    "også når kun hvad meget hus tid dag skole arbejde by verden liv år hvor sød",
    "pl": "i w nie na się to że z do jest jak ale co tak po od być mieć bardzo dobrze czas "
    "dzień dom szkoła praca miasto świat życie rok już także który może źle",
    "cs": "a v se na je to že s z do ne o jako ale tak být mít velmi dobře čas den dům škola "
    "práce město svět život rok už také který může ještě řeka",
    "ro": "și în este nu pe la cu o un care să din pentru mai ca dar foarte bine timp zi "
    "casă școală muncă oraș lume viață an țară ține așa",
    "tr": "ve bir bu da de için ile çok ama gibi daha olan var yok ne ben sen biz siz onlar "
    "ev okul iş şehir dünya hayat yıl zaman güzel değil şimdi",
    "fi": "ja on ei se että hän oli olla mutta kun niin kuin myös jo vain hyvin aika päivä "
    "talo koulu työ kaupunki maailma elämä vuosi tämä mitä",
    "hu": "és a az egy hogy nem is van volt de meg csak már még mint nagyon jó idő nap ház "
    "iskola munka város világ élet év itt ott később",
    "vi": "và là của có không được trong những người một cho với này các đã khi thì nhà "
    "trường công việc thành phố thế giới cuộc sống năm tiếng Việt",
    "id": "dan yang di ini itu dengan untuk tidak ada dari dalam akan pada juga saya kami "
    "mereka rumah sekolah kerja kota dunia hidup tahun sangat baik sudah",
    "sw": "na ya wa kwa ni katika za la kama lakini sana vizuri wakati siku nyumba shule "
    "kazi mji dunia maisha mwaka watu mimi wewe yeye",
    "hr": "i u je da se na za ne od su kao ali što sam bio biti vrlo dobro vrijeme dan kuća "
    "škola posao grad svijet život godina već čovjek",
    "lt": "ir yra kad su į iš ne bet kaip labai gerai laikas diena namas mokykla darbas "
    "miestas pasaulis gyvenimas metai jau čia žmogus",
}
OTHER = {
    "ru": "и в не на я что он с это как а то все она так его но да ты к у же вы за по "
    "только мне было вот от меня еще нет когда город мир жизнь год очень хорошо время",
    "uk": "і в не на я що він з це як а то все вона так його але ти до у вже ви за по тільки "
    "мені було від ще немає коли місто світ життя рік дуже добре час їх",
    "bg": "и в не на аз че той с това как а то всичко тя така но да ти към вече вие за по "
    "само мен беше от още няма град свят живот година много добре време къща",
    "el": "και το η ο να του της σε με για από που είναι δεν θα τα οι στο ένα μια πολύ καλά "
    "χρόνος μέρα σπίτι σχολείο δουλειά πόλη κόσμος ζωή χρόνια",
    "ar": "في من على إلى عن مع هذا هذه كان التي الذي لا ما هو هي أن قد كل بين بعد عند كما "
    "أو لكن جدا جيد وقت يوم بيت مدرسة عمل مدينة عالم حياة سنة",
    "fa": "و در به از که این را با است برای آن یک خود تا کرد بر هم نیز گفت می شود هر کار "
    "شهر جهان زندگی سال خیلی خوب وقت روز خانه مدرسه",
    "he": "של את על זה לא עם הוא היא גם כל אני אתה אבל מה כמו יותר מאוד טוב זמן יום בית "
    "ספר עבודה עיר עולם חיים שנה",
    "hi": "और का की के है में से को पर यह था कि एक भी नहीं हम वह लिए बहुत अच्छा समय दिन "
    "घर स्कूल काम शहर दुनिया जीवन साल",
    "bn": "এবং এর একটি করে হয় না যে তার জন্য থেকে আমি তুমি সে খুব ভালো সময় দিন বাড়ি "
    "স্কুল কাজ শহর পৃথিবী জীবন বছর",
    "ta": "மற்றும் ஒரு இந்த அந்த என்று உள்ள நான் நீ அவன் மிகவும் நல்ல நேரம் நாள் வீடு "
    "பள்ளி வேலை நகரம் உலகம் வாழ்க்கை ஆண்டு",
    "ko": "안녕하세요 저는 학생 입니다 오늘 날씨 가 좋습니다 학교 에 갑니다 한국어 를 공부 "
    "합니다 친구 와 밥 을 먹었습니다 감사합니다 서울 도시 세계 생활 시간",
}
UNSPACED = {
    "zh-cn": "我们 今天 天气 很好 你好 世界 中国 学习 工作 城市 生活 时间 朋友 学校 老师 "
    "学生 问题 发展 经济 国家 这个 那个 什么 因为 所以 但是 已经 开始 没有 可以",
    "zh-tw": "我們 今天 天氣 很好 你好 世界 中國 學習 工作 城市 生活 時間 朋友 學校 老師 "
    "學生 問題 發展 經濟 國家 這個 那個 什麼 因為 所以 但是 已經 開始 沒有 可以",
    "ja": "私 は 今日 天気 が いい です ね 学校 に 行きます 日本語 を 勉強 して います 東京 "
    "の 友達 と ご飯 を 食べました ありがとう ございます コーヒー テレビ ㄅㄆ",
    "th": "สวัสดี ครับ ขอบคุณ มาก วันนี้ อากาศ ดี ฉัน ชอบ กิน ข้าว ไป โรงเรียน ทำงาน เมือง โลก ชีวิต ปี บ้าน เวลา",
}
VOCABULARY = {
    code: words.split() for table in (LATIN, OTHER, UNSPACED) for code, words in table.items()
}
_ENGLISH = (
    "the of and to in is that for it as with was on be by this are or from at an which "
    "but not have has can will would more about their there if they one all also system "
    "model answer question result data value method process example team project time "
    "people work user design report review change plan issue point reason important simple "
    "clear useful different common specific possible general recent improve consider "
    "provide support include create explain describe compare measure river garden market "
    "window village winter summer morning evening library museum city"
)
ENGLISH = _ENGLISH.split()
FLAVOUR = ("Dr.", "e.g.", "U.S.", "3.5", "2024", "10%", "don't", "it's", "I'm", "AI", "NASA")
FLAVOUR += ("API", "well-known", "(see below)", "[1]", "etc.", "OK", "JSON", "iPhone", "McDonald")
LINKS = (
    "https://example.com/docs?page=2&lang=en",
    "http://test.example.org/a/b#section",
    "see https://www.wikipedia.org/wiki/Language",
    "jane.doe@example.com",
    "write to support_team@mail.example.co.uk today",
    "user123@host",
)
SYMBOLS = (
    "123 456 789",
    "3.14 + 2.71 = 5.85",
    "!!! ??? ... ;;; :::",
    "$100 - 50% @#% ^&* ()[]{}",
    "\u2014\u2013 \u201c\u201d \u2018\u2019 \u2026 \u00ab\u00bb \u00b0 \u00a0",
    "0 1 2 3 4 5 6 7 8 9",
    "+-*/=<>|~",
    "\u2019\u2019\u2019",
)
BLANK = ("", " ", "  ", "\n", "\n\n\n", "\t \t", " \r\n ")
SHORT = ("a", "I", "Ok", "é", "ß", "я", "Я", "中", "あ", "ア", "가", "ㄅ", "ح", "א", "ก", "x y")
# Around langdetect's rule that drops "A".."z" from text mostly in other scripts: it counts
# every character from U+0300 up, Vietnamese letters (U+1E00-U+1EFF) included.
CLEANING = (
    "ộộộộộộộ ab",
    "ở ấy ộ ữ ể ạ ầ ẩ ẫ ậ ắ ằ ẳ ẵ ặ ẹ ẻ ẽ ế ề a b c",
    "Việt Nam ở đâu? Tiếng Việt rất hay.",
    "ộộộộ abc ộộ",
    "ộộộ ab",
    "ab ộộộộộ [_]^`",
    "привет [x] hello_world ^` мир мир мир мир мир",
    "東京 tokyo 東京東京東京東京",
)


def sentence(rng: random.Random, words: list[str], joiner: str = " ") -> str:
    chosen = [rng.choice(words) for _ in range(rng.randint(3, 14))]
    text = joiner.join(chosen)
    if rng.random() < 0.5:
        text = text[:1].upper() + text[1:]
    return text + rng.choice((".", ".", "!", "?", "。" if joiner == "" else ",", ""))


def prose(rng: random.Random, code: str, sentences: int) -> str:
    joiner = "" if code in UNSPACED and rng.random() < 0.8 else " "
    return " ".join(sentence(rng, VOCABULARY[code], joiner) for _ in range(sentences))


def chat_answer(rng: random.Random) -> str:
    """An English answer of 20-400 words with the usual chat formatting."""
    blocks = []
    for _ in range(rng.randint(1, 4)):
        words = [
            rng.choice(FLAVOUR) if rng.random() < 0.06 else rng.choice(ENGLISH)
            for _ in range(rng.randint(10, 90))
        ]
        block = " ".join(words)
        if rng.random() < 0.3:
            block = "\n".join(f"* {line}" for line in block.split(" and "))
        blocks.append(block[:1].upper() + block[1:] + ".")
    if rng.random() < 0.2:
        blocks.insert(0, f"<<{rng.choice(ENGLISH).title()} {rng.choice(ENGLISH)}>>")
    return "\n\n".join(blocks)


def mixed(rng: random.Random) -> str:
    """Words of two languages (often two scripts) interleaved, in random proportions."""
    first, second = rng.sample(sorted(VOCABULARY), 2)
    share = rng.random()
    words = [
        rng.choice(VOCABULARY[first] if rng.random() < share else VOCABULARY[second])
        for _ in range(rng.randint(2, 60))
    ]
    text = " ".join(words)
    if rng.random() < 0.3:  # Latin noise that langdetect strips from non-Latin text
        text += " [x]_y^z` " + " ".join(rng.choice(ENGLISH) for _ in range(rng.randint(1, 5)))
    return text


# langdetect drops the n-grams inside capitalised runs (two upper-case letters in a row).
CAPITALS = (
    "ABc AbC aBC ABCdEF AbCdEf A B C a",
    "NASA's iPhone McDonald eBay USA-based I'm OK",
    "ÀÉÎ Àé àÉ ΑΒΓ Αβγ ПРИВЕТ Привет İSTANBUL ǅemal ǄEMAL",
    "X Y Z XY YZ xY Xy",
)


def generated_texts(seed: int) -> list[str]:
    rng = random.Random(seed)
    texts: list[str] = []
    answers = [chat_answer(rng) for _ in range(900)]
    texts += answers
    texts += [a.upper() for a in answers[:250]]
    texts += [a.lower() for a in answers[250:500]]
    for code in sorted(VOCABULARY):
        for _ in range(30):
            text = prose(rng, code, rng.randint(1, 8))
            if code == "vi" and rng.random() < 0.5:
                text = unicodedata.normalize("NFD", text)  # tone marks as combining marks
            if rng.random() < 0.2:
                text = text.upper()
            texts.append(text)
    texts += [mixed(rng) for _ in range(400)]
    for _ in range(80):  # Vietnamese letters next to another script
        other = rng.choice(["th", "ru", "zh-cn", "ko", "ar", "en"])
        words = VOCABULARY[other] if other != "en" else ENGLISH
        texts.append(
            " ".join(
                rng.choice(VOCABULARY["vi"] if rng.random() < 0.5 else words)
                for _ in range(rng.randint(3, 60))
            )
        )
    texts += list(CLEANING)
    texts += list(CAPITALS)
    for _ in range(150):
        base = chat_answer(rng) if rng.random() < 0.6 else prose(rng, rng.choice(["fr", "de"]), 3)
        cut = rng.randint(0, len(base))
        texts.append(base[:cut] + " " + rng.choice(LINKS) + " " + base[cut:])
    texts += [rng.choice(LINKS) for _ in range(20)]
    texts += [rng.choice(SYMBOLS) + rng.choice(("", " ", "\n")) for _ in range(60)]
    texts += list(BLANK)
    texts += list(SHORT)
    for _ in range(250):
        code = rng.choice(sorted(VOCABULARY))
        count = rng.randint(1, 3)
        texts.append(" ".join(rng.choice(VOCABULARY[code]) for _ in range(count)))
    for index in range(16):
        long_text = ""
        while len(long_text) < 10_050:
            long_text += chat_answer(rng) + "\n\n"
        if index % 2:  # what follows the 10,000th character must not count
            long_text += prose(rng, rng.choice(["ru", "ja", "fr"]), 200)
        texts.append(long_text)
    return texts


@pytest.fixture(scope="module")
def factory() -> Any:
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.seed = 0
    return factory


def reference(factory: Any, text: str) -> str | None:
    """langdetect's answer exactly as _text.detect_language obtained it before."""
    detector = factory.create()
    detector.append(text)
    try:
        return str(detector.detect())
    except LangDetectException:
        return None


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return generated_texts(seed=11)


def test_the_corpus_is_large_and_varied(factory: Any, texts: list[str]) -> None:
    assert len(texts) >= 3000
    assert sum(len(t) > 10_000 for t in texts) >= 16
    verdicts = Counter(reference(factory, t) for t in texts[::7])
    assert None in verdicts
    assert len(verdicts) >= 30, verdicts


def test_detect_equals_langdetect(
    factory: Any, texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    replays = 0
    replay = _langdetect._replay

    def counted(draws: _langdetect.Draws) -> str:
        nonlocal replays
        replays += 1
        return replay(draws)

    monkeypatch.setattr(_langdetect, "_replay", counted)
    wrong = [
        (text[:80], expected, actual)
        for text in texts
        if (expected := reference(factory, text)) != (actual := _langdetect.detect(text))
    ]
    assert not wrong, f"{len(wrong)} of {len(texts)} texts differ, e.g. {wrong[:5]}"
    # The exact replay is the exception, not the rule (it is about 10 times slower).
    assert replays <= len(texts) // 50


def test_undecided_texts_are_replayed(
    factory: Any, texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def undecided(draws: _langdetect.Draws) -> str:
        raise _langdetect._Undecided

    monkeypatch.setattr(_langdetect, "_estimate", undecided)
    _langdetect.verdict.cache_clear()
    try:
        for text in texts[::40]:
            assert _langdetect.detect(text) == reference(factory, text), text[:80]
    finally:
        _langdetect.verdict.cache_clear()


def test_replay_is_bit_identical(factory: Any, texts: list[str]) -> None:
    for text in texts[::25]:
        detector = factory.create()
        detector.append(text)
        try:
            detector.get_probabilities()
        except LangDetectException:
            assert not len(_langdetect.feature_rows(text))
            continue
        draws = _langdetect.Draws(_langdetect.feature_rows(text))
        assert _langdetect.replay_probabilities(draws).tolist() == detector.langprob


def test_features_equal_langdetect_ngrams(factory: Any, texts: list[str]) -> None:
    grams = {row: gram for gram, row in _langdetect.profiles().rows.items()}
    for text in texts[::5]:
        detector = factory.create()
        detector.append(text)
        detector.cleaning_text()
        expected = detector._extract_ngrams()
        actual = [grams[row] for row in _langdetect.feature_rows(text).tolist()]
        assert actual == expected, text[:80]


@pytest.mark.parametrize("text", CAPITALS)
def test_features_of_capitalised_words(factory: Any, text: str) -> None:
    grams = {row: gram for gram, row in _langdetect.profiles().rows.items()}
    detector = factory.create()
    detector.append(text)
    detector.cleaning_text()
    actual = [grams[row] for row in _langdetect.feature_rows(text).tolist()]
    assert actual == detector._extract_ngrams()


@pytest.mark.parametrize("text", CLEANING)
def test_prepared_text_equals_langdetect(factory: Any, text: str) -> None:
    detector = factory.create()
    detector.append(text)
    detector.cleaning_text()
    assert _langdetect.prepared_text(text) == detector.text


def test_language_order_is_langdetect_order(factory: Any) -> None:
    assert list(_langdetect.profiles().languages) == factory.get_lang_list()


def test_normalize_char_equals_langdetect() -> None:
    astral = range(0x10000, 0x110000, 997)
    for code in (*range(0x10000), *astral):
        ch = chr(code)
        assert _langdetect.normalize_char(ch) == NGram.normalize(ch), hex(code)


def _choices(rng: random.Random, size: int) -> Iterator[int]:
    while True:
        yield rng.choice(range(size))


def test_draws_reproduce_random_choice() -> None:
    for size in (1, 2, 3, 7, 64, 100, 2345, 30_000):
        draws = _langdetect.Draws(np.arange(size, dtype=np.int32))
        draws.ensure(3000)
        expected = _choices(random.Random(0), size)
        assert draws.value[:3000].tolist() == [next(expected) for _ in range(3000)]
        assert draws.rows[:3000].tolist() == draws.value[:3000].tolist()


def test_stream_reproduces_gauss_and_words() -> None:
    stream = _langdetect._stream()
    rng = random.Random(0)
    assert stream.words[:5000] == [rng.getrandbits(32) for _ in range(5000)]
    rng = random.Random(0)
    gauss = [rng.gauss(0.0, 1.0) for _ in range(40)]
    pairs = [value for word in range(0, 80, 4) for value in stream.gauss_pair(word)]
    assert pairs == gauss


@pytest.mark.parametrize("size", [1, 5, 300, 2345])
def test_trial_bookkeeping_follows_langdetect_order(size: int) -> None:
    """langdetect draws alpha (gauss) before each trial and then n-grams; every other gauss
    comes from the pair computed the time before."""
    rng = random.Random(0)
    lengths = (3, 17, 1, 60, 8, 25, 2)
    expected: list[float | int] = []
    for length in lengths:
        expected.append(0.5 + rng.gauss(0.0, 1.0) * 0.05)
        expected.extend(rng.choice(range(size)) for _ in range(length))
    draws = _langdetect.Draws(np.arange(size, dtype=np.int32))
    actual: list[float | int] = []
    pending: float | None = None
    word = index = 0
    next_alpha: Callable[..., tuple[float, float | None, int]] = _langdetect._next_alpha
    for length in lengths:
        alpha, pending, word = next_alpha(draws.stream, pending, word)
        actual.append(alpha)
        index = draws.first_at(word, index)
        draws.ensure(index + length)
        actual.extend(draws.value[index : index + length].tolist())
        index += length
        word = int(draws.position[index - 1]) + 1
    assert actual == expected
