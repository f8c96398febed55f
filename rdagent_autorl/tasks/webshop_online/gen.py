"""A SYNTHETIC WebShop catalogue and goals, seeded, for offline use (tests, --smoke, `--data generated`).

Products are written in WebShop's raw schema (items_shuffle.json: asin, name, full_description,
small_description, pricing, images, product_category, query, category, customization_options) with an
attribute record each (items_ins_v2.json: attributes, instruction, instruction_attributes), then go
through the same processing as the official files (data.py). The vocabulary is this project's own: five
WebShop categories, four product types each, with attribute and option pools.

Distractors are built in: every type has many products, in other colours, sizes and prices, with
overlapping attribute sets, and titles that differ in a word or two (same brand, same type).
Goals are made the way WebShop makes synthetic goals (goal.py's get_synthetic_goals): one per product
x option combination, the instruction + " with <option>: <value>, and ..." + a price limit above the
price, weighted by inverse attribute frequency. Scores on them are NOT WebShop scores.

The products and the training goals come from public seeds; the held-out goals (their instructions, price
limits and which are drawn) from this installation's secret seed (data.load_generated, redraw_instruction).
"""

from __future__ import annotations

import random
import string

# 2: held-out goals are drawn from the installation's secret stream, and the catalogue file holds no product's
# goal instruction (data.load_generated); the products and the training goals are version 1's.
GENERATOR_VERSION = 2
# category -> product types: (title noun, query, product_category path, attributes, options {name: values}, price range)
_C = "›"
TYPES = {
    "fashion": [
        ("running shoes", "men's running shoes", f"Clothing, Shoes & Jewelry {_C} Men {_C} Shoes {_C} Athletic",
         ["non slip", "rubber sole", "lightweight", "breathable mesh", "lace up", "arch support", "memory foam"],
         {"color": ["Black", "White", "Navy Blue", "Grey", "Red"], "size": ["7", "8", "8.5", "9", "10", "11"]}, (25, 90)),
        ("hoodie", "women's hoodie", f"Clothing, Shoes & Jewelry {_C} Women {_C} Clothing {_C} Sweatshirts",
         ["machine wash", "long sleeve", "fleece lined", "relaxed fit", "drawstring closure", "cotton blend"],
         {"color": ["Heather Grey", "Black", "Pink", "Olive Green", "Burgundy"],
          "size": ["Small", "Medium", "Large", "X-Large"]}, (18, 55)),
        ("yoga pants", "high waist yoga pants", f"Clothing, Shoes & Jewelry {_C} Women {_C} Clothing {_C} Active",
         ["high waist", "tummy control", "four way stretch", "quick dry", "machine wash", "pocket"],
         {"color": ["Black", "Navy", "Charcoal", "Wine Red"], "size": ["X-Small", "Small", "Medium", "Large"]}, (15, 45)),
        ("rain jacket", "men's rain jacket", f"Clothing, Shoes & Jewelry {_C} Men {_C} Clothing {_C} Outerwear",
         ["waterproof", "hooded", "packable", "zip pockets", "windproof", "lightweight"],
         {"color": ["Black", "Army Green", "Royal Blue", "Khaki"], "size": ["Medium", "Large", "X-Large", "XX-Large"]},
         (30, 120)),
    ],
    "beauty": [
        ("shampoo", "sulfate free shampoo", f"Beauty & Personal Care {_C} Hair Care {_C} Shampoo & Conditioner",
         ["sulfate free", "tea tree", "argan oil", "paraben free", "for dry hair", "natural ingredients"],
         {"size": ["8 Fl Oz (Pack of 1)", "16 Fl Oz (Pack of 1)", "16 Fl Oz (Pack of 2)"]}, (8, 35)),
        ("lipstick", "matte lipstick", f"Beauty & Personal Care {_C} Makeup {_C} Lips {_C} Lipstick",
         ["long lasting", "cruelty free", "matte finish", "moisturizing", "vegan"],
         {"color": ["Ruby Red", "Nude", "Coral", "Plum", "Rose Pink"]}, (6, 28)),
        ("face moisturizer", "face moisturizer for sensitive skin", f"Beauty & Personal Care {_C} Skin Care {_C} Face",
         ["hyaluronic acid", "fragrance free", "oil free", "spf 30", "for sensitive skin", "non comedogenic"],
         {"size": ["1.7 Ounce", "3.4 Ounce"]}, (10, 48)),
        ("hair extension", "clip in hair extension", f"Beauty & Personal Care {_C} Hair Care {_C} Extensions & Wigs",
         ["natural looking", "clip in", "heat resistant", "human hair", "easy to use"],
         {"color": ["Dark Brown", "Blonde", "Black", "Auburn"], "size": ["14 Inch", "18 Inch", "22 Inch"]}, (15, 70)),
    ],
    "food": [
        ("green tea", "organic green tea bags", f"Grocery & Gourmet Food {_C} Beverages {_C} Tea {_C} Green",
         ["organic", "caffeine free", "non gmo", "individually wrapped", "gluten free"],
         {"flavor name": ["Jasmine", "Mint", "Lemon Ginger", "Original"],
          "size": ["20 Count (Pack of 1)", "20 Count (Pack of 6)"]}, (5, 30)),
        ("protein bars", "protein bars low sugar", f"Grocery & Gourmet Food {_C} Snacks {_C} Bars {_C} Protein",
         ["low sugar", "high protein", "gluten free", "keto friendly", "plant based"],
         {"flavor name": ["Chocolate Chip", "Peanut Butter", "Cookie Dough", "Berry"], "size": ["12 Count", "24 Count"]},
         (12, 40)),
        ("coffee beans", "whole bean coffee", f"Grocery & Gourmet Food {_C} Beverages {_C} Coffee {_C} Whole Bean",
         ["dark roast", "fair trade", "single origin", "organic", "low acid"],
         {"size": ["12 Ounce", "2 Pound"]}, (9, 45)),
        ("mixed nuts", "roasted mixed nuts", f"Grocery & Gourmet Food {_C} Snacks {_C} Nuts & Seeds",
         ["lightly salted", "unsalted", "resealable bag", "non gmo", "kosher"],
         {"size": ["16 Ounce", "32 Ounce", "40 Ounce (Pack of 2)"]}, (8, 32)),
    ],
    "furniture": [
        ("office chair", "ergonomic office chair", f"Home & Kitchen {_C} Furniture {_C} Home Office Furniture {_C} Chairs",
         ["lumbar support", "adjustable height", "mesh back", "swivel", "easy assembly", "padded armrests"],
         {"color": ["Black", "Grey", "White", "Blue"]}, (60, 260)),
        ("bookshelf", "5 tier bookshelf", f"Home & Kitchen {_C} Furniture {_C} Living Room Furniture {_C} Bookcases",
         ["solid wood", "easy assembly", "space saving", "metal frame", "anti tip"],
         {"color": ["Rustic Brown", "Black", "White Oak", "Grey"], "size": ["3 Tier", "4 Tier", "5 Tier"]}, (35, 160)),
        ("coffee table", "lift top coffee table", f"Home & Kitchen {_C} Furniture {_C} Living Room Furniture {_C} Tables",
         ["lift top", "storage shelf", "engineered wood", "easy clean", "mid century"],
         {"color": ["Walnut", "Espresso", "White", "Natural"]}, (50, 220)),
        ("bar stools", "counter height bar stools", f"Home & Kitchen {_C} Furniture {_C} Kitchen & Dining {_C} Stools",
         ["set of 2", "faux leather", "footrest", "swivel", "counter height", "metal legs"],
         {"color": ["Black", "Brown", "Grey", "Cream"], "size": ["24 Inch", "26 Inch", "30 Inch"]}, (45, 190)),
    ],
    "electronics": [
        ("bluetooth speaker", "portable bluetooth speaker", f"Electronics {_C} Portable Audio & Video {_C} Speakers",
         ["waterproof", "long battery life", "wireless", "built in microphone", "deep bass"],
         {"color": ["Black", "Blue", "Red", "Teal"]}, (20, 110)),
        ("usb c charger", "usb c fast charger", f"Electronics {_C} Accessories & Supplies {_C} Chargers",
         ["fast charging", "foldable plug", "dual port", "compact", "overheat protection"],
         {"color": ["White", "Black"], "size": ["20W", "45W", "65W"]}, (10, 50)),
        ("wireless earbuds", "wireless earbuds noise cancelling", f"Electronics {_C} Headphones {_C} Earbud Headphones",
         ["noise cancelling", "water resistant", "charging case", "touch control", "long battery life"],
         {"color": ["Black", "White", "Navy Blue"]}, (18, 130)),
        ("hdmi cable", "4k hdmi cable", f"Electronics {_C} Accessories & Supplies {_C} Cables {_C} HDMI",
         ["high speed", "4k", "braided", "gold plated", "ethernet"],
         {"size": ["3 Feet", "6 Feet", "10 Feet", "15 Feet"], "color": ["Black", "Grey"]}, (6, 25)),
    ],
}
BRANDS = ["Lumora", "Kestrel", "Oakvale", "Brightly", "Nordic Peak", "Veloce", "Amberly", "Quillon", "Sunvista", "Halden",
          "Marlowe", "Tidewell", "Corvane", "Pinecrest", "Zephra", "Elmstead"]
STYLES = ["Classic", "Premium", "Essential", "Pro", "Everyday", "Deluxe", "Ultra", "Original", "Plus", "Signature"]
INSTRUCTIONS = ["i am looking for {a} {noun} that is {attrs}", "i need {a} {noun} which is {attrs}",
                "i want to buy {noun} that are {attrs}", "find me {a} {noun} that is {attrs}"]
FILLER = ["Designed for everyday use.", "Backed by a 30 day guarantee.", "A customer favourite.",
          "Thoughtfully made and carefully tested.", "Great as a gift."]


def _asin(rng: random.Random, taken: set) -> str:
    while True:
        asin = "B0" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=8))
        if asin not in taken:
            taken.add(asin)
            return asin


def _product(rng: random.Random, category: str, kind: tuple, brand: str, attributes: list, taken: set) -> tuple[dict, dict]:
    noun, query, path, _, option_pool, (low, high) = kind
    options = {}
    for name, values in option_pool.items():  # a random non-empty subset of each option's values, pool order kept
        keep = sorted(rng.sample(range(len(values)), rng.randint(min(2, len(values)), len(values))))
        options[name] = [values[i] for i in keep]
    price = round(rng.uniform(low, high), 2)
    pricing = f"${price}" if rng.random() < 0.7 else f"${price}${round(price * rng.uniform(1.05, 1.4), 2)}"
    title_words = [brand, rng.choice(STYLES), noun.title(), *(a.title() for a in rng.sample(attributes, 2))]
    bullets = [f"{a.capitalize()}: {rng.choice(FILLER)}" for a in attributes]
    description = (f"The {brand} {noun} is {', '.join(attributes[:-1])} and {attributes[-1]}. "
                   f"{rng.choice(FILLER)} {rng.choice(FILLER)}")
    asin = _asin(rng, taken)
    raw = {"asin": asin, "name": " ".join(title_words), "full_description": description, "small_description": bullets,
           "pricing": pricing, "images": [f"https://example.invalid/synthetic/{asin}.jpg"], "product_category": path,
           "query": query, "category": category,
           "customization_options": {name: [{"value": v, "image": None} for v in vs] for name, vs in options.items()}}
    text, wanted = _instruction(rng, noun, attributes)
    return raw, {"attributes": attributes, "instruction": text, "instruction_attributes": wanted}


def _instruction(rng: random.Random, noun: str, attributes: list) -> tuple[str, list]:
    """A product's goal instruction: 1-2 of its attributes in one of the INSTRUCTIONS; (text, those attributes)."""
    wanted = rng.sample(attributes, min(len(attributes), rng.randint(1, 2)))
    a = "an" if noun[0] in "aeiou" else "a"
    return rng.choice(INSTRUCTIONS).format(a=a, noun=noun, attrs=" and ".join(wanted)), wanted


_NOUNS = {kind[1].lower().strip(): kind[0] for kinds in TYPES.values() for kind in kinds}  # query -> title noun


def redraw_instruction(product: dict, rng: random.Random) -> dict:
    """A copy of a processed product with its goal instruction drawn again from `rng`: held-out goals are made
    from such copies with the installation's secret stream, so the public stream's instructions (and the
    catalogue) do not tell them."""
    text, wanted = _instruction(rng, _NOUNS[product["query"]], list(product["Attributes"]))
    return {**product, "instruction_text": text, "instruction_attributes": wanted}


def generate_raw(n_per_type: int, seed: int) -> tuple[list[dict], dict]:
    """`n_per_type` products of every type in WebShop's raw schema, and their attribute records
    ({asin: {attributes, instruction, instruction_attributes}}), shuffled as items_shuffle.json is."""
    rng = random.Random(seed)
    products, records, taken = [], {}, set()
    for category, kinds in TYPES.items():
        for kind in kinds:
            pool = kind[3]
            for i in range(n_per_type):
                # Near-duplicates: products come in pairs of one brand whose attribute sets differ by one.
                if i % 2 == 0:
                    brand, base = rng.choice(BRANDS), rng.sample(pool, rng.randint(3, min(5, len(pool))))
                    attributes = base
                else:
                    swap = [a for a in pool if a not in base]
                    attributes = base[:-1] + ([rng.choice(swap)] if swap else [])
                raw, record = _product(rng, category, kind, brand, list(attributes), taken)
                products.append(raw)
                records[raw["asin"]] = record
    rng.shuffle(products)
    return products, records
