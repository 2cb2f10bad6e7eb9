"""Word lists and sentence banks of the built-in suite, written for turnscope.

Every list is a tuple so that drawing from it with a seeded random.Random is reproducible
(no set or dict iteration order is involved)."""

from __future__ import annotations

from typing import Final

# Plain words for counting, spelling and case tasks: lowercase letters only, no repeats.
WORDS: Final = (
    "lantern", "meadow", "harbour", "pebble", "thimble", "orchard", "compass", "blanket",
    "cobweb", "saddle", "kettle", "ribbon", "walnut", "glacier", "puddle", "chimney",
    "lobster", "violin", "marble", "cactus", "pillow", "tunnel", "falcon", "biscuit",
    "candle", "anchor", "ladder", "parsnip", "button", "whistle", "mitten", "canyon",
    "pepper", "tractor", "sparrow", "quiver", "zipper", "jigsaw", "blossom", "trumpet",
)  # fmt: skip

# Longer words for letter-counting tasks that take some care.
LONG_WORDS: Final = (
    "strawberry", "bookkeeper", "committee", "mississippi", "assessment", "balloonist",
    "bellflower", "coffeepot", "parallelogram", "successfully", "tennessee", "possession",
    "accommodate", "embarrassment", "millimetre", "sunflowerseed", "buttercup", "referee",
)  # fmt: skip

WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Names invented for planted facts: pets, people, places that exist in no benchmark.
PET_NAMES: Final = (
    "Pickle", "Noodle", "Juniper", "Waffles", "Ziggy", "Marzipan", "Tofu", "Bramble",
    "Custard", "Pippin", "Sprocket", "Nimbus", "Clementine", "Domino", "Fennel", "Gizmo",
)  # fmt: skip
PERSON_NAMES: Final = (
    "Ilse", "Tomasz", "Anouk", "Ravi", "Soledad", "Bartholomew", "Yuki", "Fenella",
    "Oskar", "Delphine", "Kwame", "Marisol", "Lorcan", "Signe", "Henrike", "Teodor",
)  # fmt: skip
TOWNS: Final = (
    "Wrenfield", "Oakhollow", "Marlbeck", "Stonebridge", "Fairhaven Cove", "Ashcombe",
    "Brindlewick", "Copperton", "Dunmere", "Elderbrook", "Glenvarra", "Hollowmere",
)  # fmt: skip
PLACES: Final = (
    "the old clock tower", "the fountain by the library", "the north gate of the park",
    "the blue kiosk at the station", "the second bench by the pond", "the ferry ticket office",
    "the corner of the fish market", "the steps of the museum",
)  # fmt: skip
COLOURS: Final = (
    "teal", "maroon", "amber", "lilac", "olive", "crimson", "turquoise", "ochre", "violet",
    "charcoal",
)  # fmt: skip
CODE_WORDS: Final = (
    "maple", "gravel", "otter", "cinder", "willow", "copper", "fjord", "thistle", "velvet",
    "basalt",
)  # fmt: skip
LETTERS: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ"

# Things to put in lists (expansion and follow-up): each category has at least 12 entries.
LIST_CATEGORIES: Final = (
    ("groceries", "grocery", (
        "eggs", "rice", "leeks", "plums", "flour", "butter", "lentils", "spinach", "honey",
        "oats", "lemons", "yoghurt", "carrots", "cheese", "walnuts", "basil",
    )),
    ("packing", "packing", (
        "passport", "charger", "sunscreen", "sandals", "toothbrush", "umbrella", "notebook",
        "scarf", "headphones", "raincoat", "socks", "water bottle", "map", "torch",
    )),
    ("animals", "animal", (
        "otter", "heron", "badger", "lynx", "walrus", "gecko", "beaver", "falcon", "koala",
        "moose", "newt", "puffin", "tapir", "weasel", "yak", "zebra",
    )),
    ("fruits", "fruit", (
        "apricot", "mango", "kiwi", "pear", "fig", "cherry", "guava", "lime", "melon",
        "papaya", "quince", "plum", "peach", "grape",
    )),
    ("tools", "tool", (
        "hammer", "chisel", "wrench", "pliers", "saw", "drill", "level", "trowel", "clamp",
        "file", "rasp", "mallet", "spanner", "screwdriver",
    )),
    ("guests", "guest", PERSON_NAMES),
)  # fmt: skip

# Refinement: short notes on everyday topics. Every sentence is free of commas and of the
# FORBIDDEN_WORDS, so that a reference built from them can follow any mix of constraints.
NOTE_TOPICS: Final = (
    ("a neighbour", "the garden party on Saturday", (
        "We are having a small garden party on Saturday afternoon.",
        "There will be lemonade and cake for everyone.",
        "Children and dogs are welcome to come along.",
        "It should finish before the evening gets cold.",
        "Let me know if you can make it.",
    )),
    ("a colleague", "moving the team meeting", (
        "The team meeting is moving from Tuesday to Thursday.",
        "The room stays the same as before.",
        "Please bring the notes from last month.",
        "We will start ten minutes earlier than usual.",
        "Tell me if the new day does not suit you.",
    )),
    ("the landlord", "the dripping kitchen tap", (
        "The kitchen tap has been dripping for a week.",
        "The noise keeps us awake at night.",
        "A plumber could probably fix it in an hour.",
        "We are at home most mornings this month.",
        "Please tell me when someone can come.",
    )),
    ("a friend", "borrowing a tent", (
        "I am going camping by the lake next month.",
        "Could I borrow your tent for the trip?",
        "I will clean it and dry it before I return it.",
        "We could go together if you are free.",
        "I can pick it up on Friday evening.",
    )),
    ("the book club", "the next book", (
        "The next book for our club is a mystery novel.",
        "It is short enough to read in two weeks.",
        "The library has four copies to lend.",
        "We meet on the last Sunday of the month.",
        "Bring a snack to share if you like.",
    )),
    ("a cousin", "a visit in spring", (
        "I would love to visit you in the spring.",
        "The train takes about three hours from here.",
        "I can stay for a long weekend.",
        "We could walk along the river if it is sunny.",
        "Tell me which dates work for you.",
    )),
)  # fmt: skip
NOTE_KEYWORDS: Final = (
    "lantern", "pebble", "orchard", "ribbon", "compass", "harbour", "kettle", "blossom",
)  # fmt: skip
FORBIDDEN_WORDS: Final = ("very", "really", "just", "thanks", "nice", "great", "hope", "sorry")
END_PHRASES: Final = (
    "See you soon.", "Warm wishes.", "Talk soon.", "All the best.", "Until then.",
)  # fmt: skip
TITLES: Final = ("A short note", "News from me", "A quick message", "For your diary")

# Global instructions: a rule given at turn 1 for every later answer.
GLOBAL_KEYWORDS: Final = ("lighthouse", "pinecone", "saffron", "marmalade", "zeppelin")
GLOBAL_END_WORDS: Final = ("Over.", "Done.", "End of answer.")
