"""Room templates for the ALFWorld game generator (`gen.py`), and `compose`: room + task -> PDDL problem.

A room template says which receptacle classes a room of that kind may hold (and how many of each, at
most) and which object classes are found in it. The tables follow the inventories of AI2-THOR's
kitchens, living rooms, bedrooms and bathrooms (ALFWorld's `alfworld/gen/layouts/FloorPlan*-objects.json`),
kept short and hand-picked so that rooms read like ALFWorld's. Everything about what an object *can do*
(pickupable, heatable, what holds what, what opens) is NOT here: the generator takes it from
`alfworld.gen.constants`, so the rules are ALFWorld's own. `check_tables()` ties the two together.
`compose` is pure Python (no engine): `gen.py` plans, verifies and writes what it returns.
"""

from __future__ import annotations

import random
from collections import Counter

import alfworld.gen.constants as C
import alfworld.gen.goal_library as glib

# Room size per level: (receptacles min, max), (distractor objects min, max), extra target instances max.
# smoke: tiny rooms with planner solutions of ~4-10 steps (CPU smoke runs, tests); standard: closer to
# ALFWorld's rooms (which hold ~10-30 receptacles).
LEVEL_SIZES = {"smoke": ((3, 5), (0, 2), 0), "standard": ((8, 15), (3, 8), 1)}

# Room names are those of `constants.GOALS_VALID` (which task types each kind of room hosts) and
# `constants.SCENE_TYPE` (its FloorPlan numbers, used as the scene id of a game's folder name).
ROOM_RECEPTACLES: dict[str, dict[str, int]] = {
    "Kitchen": {"Cabinet": 6, "Drawer": 4, "CounterTop": 3, "StoveBurner": 4, "Shelf": 3, "Fridge": 1,
                "Microwave": 1, "SinkBasin": 1, "CoffeeMachine": 1, "Toaster": 1, "GarbageCan": 1,
                "DiningTable": 1},
    "LivingRoom": {"Sofa": 1, "ArmChair": 2, "CoffeeTable": 1, "SideTable": 2, "DiningTable": 1, "TVStand": 1,
                   "Drawer": 4, "Cabinet": 3, "Shelf": 4, "Dresser": 1, "Ottoman": 1, "GarbageCan": 1,
                   "Safe": 1},
    "Bedroom": {"Bed": 1, "Desk": 1, "Dresser": 1, "SideTable": 2, "Drawer": 6, "Shelf": 5, "ArmChair": 1,
                "Cabinet": 2, "LaundryHamper": 1, "GarbageCan": 1, "Safe": 1},
    "Bathroom": {"Toilet": 1, "SinkBasin": 2, "BathtubBasin": 1, "CounterTop": 1, "Cabinet": 4, "Drawer": 4,
                 "Shelf": 3, "TowelHolder": 1, "HandTowelHolder": 1, "ToiletPaperHanger": 1, "Cart": 1,
                 "GarbageCan": 1, "Dresser": 1},
}

ROOM_OBJECTS: dict[str, tuple[str, ...]] = {
    "Kitchen": ("Apple", "Bowl", "Bread", "ButterKnife", "Cup", "DishSponge", "Egg", "Fork", "Glassbottle",
                "Kettle", "Knife", "Ladle", "Lettuce", "Mug", "Pan", "PepperShaker", "Plate", "Pot", "Potato",
                "SaltShaker", "SoapBottle", "Spatula", "Spoon", "Tomato", "WineBottle"),
    "LivingRoom": ("Book", "Bowl", "Box", "CellPhone", "CreditCard", "KeyChain", "Laptop", "Newspaper",
                   "Pillow", "Plate", "RemoteControl", "Statue", "TissueBox", "Vase", "Watch", "WateringCan"),
    "Bedroom": ("AlarmClock", "BaseballBat", "BasketBall", "Book", "Bowl", "Box", "CD", "CellPhone", "Cloth",
                "CreditCard", "KeyChain", "Laptop", "Mug", "Pen", "Pencil", "Pillow", "TennisRacket", "Vase",
                "Watch"),
    "Bathroom": ("Candle", "Cloth", "DishSponge", "HandTowel", "Plunger", "SoapBar", "SoapBottle",
                 "SprayBottle", "TissueBox", "ToiletPaper", "Towel"),
}

# Lamps stand on (are `inReceptacle` of) furniture: ALFWorld's ToggleObject needs the lamp in a
# receptacle at the agent's location. No receptacle lists lamps in VAL_RECEPTACLE_OBJECTS (nobody can
# put a lamp down), so where they stand is ours to choose.
LAMP_HOLDERS: dict[str, tuple[str, ...]] = {
    "DeskLamp": ("Desk", "SideTable", "Dresser"),
    "FloorLamp": ("SideTable", "Dresser", "ArmChair", "Sofa", "Desk"),
}

# The appliance a task type needs: the domain's CleanObject/HeatObject/CoolObject only accept these types.
TASK_APPLIANCE: dict[str, str] = {
    "pick_clean_then_place_in_recep": "SinkBasin",
    "pick_heat_then_place_in_recep": "Microwave",
    "pick_cool_then_place_in_recep": "Fridge",
}

# The property the target must have for the task types that use an appliance.
TASK_PROPERTY: dict[str, str] = {"pick_clean_then_place_in_recep": "Cleanable",
                                 "pick_heat_then_place_in_recep": "Heatable",
                                 "pick_cool_then_place_in_recep": "Coolable"}

# ALFWorld's Demangler shows an id `X_bar_..._bar_YBasin` as "xbasin N" (it appends "basin" to the
# class part when the lower-cased id contains "basin"), so basins need the official two-part ids.
BASIN_ID_PREFIX: dict[str, str] = {"SinkBasin": "Sink", "BathtubBasin": "Bathtub"}

# Pickupable object classes: anything some receptacle accepts (ALFWorld has no separate list).
PICKUPABLE: frozenset[str] = frozenset(o for objs in C.VAL_RECEPTACLE_OBJECTS.values() for o in objs
                                       if not o.endswith("Sliced"))


def can_contain(recep_class: str, obj_class: str) -> bool:
    return obj_class in C.VAL_RECEPTACLE_OBJECTS.get(recep_class, ())


def check_tables() -> list[str]:
    """Problems in the tables above (empty when they agree with ALFWorld's constants)."""
    problems = []
    for room, receps in ROOM_RECEPTACLES.items():
        if room not in C.SCENE_TYPE:
            problems.append(f"{room}: not a room of constants.SCENE_TYPE")
        for r in receps:
            if r not in C.VAL_RECEPTACLE_OBJECTS or r in C.MOVABLE_RECEPTACLES_SET:
                problems.append(f"{room}: {r} is not a static ALFWorld receptacle")
        for o in ROOM_OBJECTS[room]:
            if o not in PICKUPABLE:
                problems.append(f"{room}: {o} is not pickupable")
            elif not any(can_contain(r, o) for r in receps):
                problems.append(f"{room}: nothing in the room can hold {o}")
    for lamp, holders in LAMP_HOLDERS.items():
        if lamp not in C.VAL_ACTION_OBJECTS["Toggleable"]:
            problems.append(f"{lamp} is not toggleable")
    return problems


def compose(rng: random.Random, task_type: str, level: str) -> tuple[str, dict, str]:
    """Draw one room and task; return (pddl_problem, traj_data, folder name)."""
    (r_lo, r_hi), (d_lo, d_hi), extra = LEVEL_SIZES[level]
    look = task_type == "look_at_obj_in_light"
    appliance = TASK_APPLIANCE.get(task_type, "")
    prop = TASK_PROPERTY.get(task_type)

    def options(room: str) -> dict[str, list[tuple[str, list[str]]]]:
        """object class -> [(parent class, classes it may start in)]; starting in the parent (or in the
        appliance: a fridge would count as cooling in ALFRED) would make the task trivial."""
        pool = ROOM_RECEPTACLES[room]
        if (appliance and appliance not in pool) or (look and not any(
                h in pool for hs in LAMP_HOLDERS.values() for h in hs)):
            return {}
        out = {}
        for obj in ROOM_OBJECTS[room]:
            if prop and obj not in C.VAL_ACTION_OBJECTS[prop]:
                continue
            holders = [r for r in pool if can_contain(r, obj) and r != appliance]
            pairs = [(p, [s for s in holders if s != p]) for p in ([""] if look else holders)]
            if pairs := [(p, s) for p, s in pairs if s]:
                out[obj] = pairs
        return out

    room = rng.choice([r for r in sorted(C.GOALS_VALID[task_type]) if r in ROOM_RECEPTACLES and options(r)])
    pool, opts = ROOM_RECEPTACLES[room], options(room)
    obj = rng.choice(sorted(opts))
    parent, starts = rng.choice(opts[obj])
    start = rng.choice(starts)
    toggle = holder = ""
    if look:
        toggle = rng.choice([lamp for lamp, hs in sorted(LAMP_HOLDERS.items()) if any(h in pool for h in hs)])
        holder = rng.choice([h for h in LAMP_HOLDERS[toggle] if h in pool])

    # receptacles: what the task needs, then the room's own furniture, weighted by how much is left of it
    counts = dict.fromkeys(c for c in (start, parent, appliance, holder) if c)
    counts = {c: 1 for c in counts}
    want = max(rng.randint(r_lo, r_hi), len(counts))
    while sum(counts.values()) < want:
        free = [c for c in pool if counts.get(c, 0) < pool[c]]
        if not free:
            break
        c = rng.choices(free, weights=[pool[c] - counts.get(c, 0) for c in free])[0]
        counts[c] = counts.get(c, 0) + 1
    receps = [(c, f"{BASIN_ID_PREFIX[c]}_bar_{k}_bar_{c}" if c in BASIN_ID_PREFIX else f"{c}_bar_{k}")
              for c in sorted(counts) for k in range(1, counts[c] + 1)]

    def ids_of(pred) -> list[str]:
        return [rid for c, rid in receps if pred(c)]

    # objects: (class, receptacle id)
    n_targets = (2 if task_type == "pick_two_obj_and_place" else 1) + rng.randint(0, extra)
    placed = [(obj, rng.choice(ids_of(lambda c: c == start)))]
    placed += [(obj, rng.choice(ids_of(lambda c: c in starts))) for _ in range(n_targets - 1)]
    if look:
        placed.append((toggle, rng.choice(ids_of(lambda c: c == holder))))
        other = [lamp for lamp in sorted(LAMP_HOLDERS) if lamp != toggle]
        if level == "standard" and rng.random() < 0.5 and ids_of(lambda c: c in LAMP_HOLDERS[other[0]]):
            placed.append((other[0], rng.choice(ids_of(lambda c: c in LAMP_HOLDERS[other[0]]))))
    fits = [o for o in ROOM_OBJECTS[room] if o != obj and ids_of(lambda c, o=o: can_contain(c, o))]
    for _ in range(rng.randint(d_lo, d_hi)):
        o = rng.choice(fits)
        placed.append((o, rng.choice(ids_of(lambda c: can_contain(c, o)))))

    # PDDL problem, in the shape of alfworld-download's initial_state.pddl
    loc = {rid: f"loc_bar_{i}" for i, (_, rid) in enumerate(receps, start=1)}  # loc_bar_0: the agent's start
    seen: Counter = Counter()
    objects = []
    for c, rid in placed:
        seen[c] += 1
        objects.append((c, f"{c}_bar_{seen[c]}", rid))
    o_classes, r_classes = sorted({c for c, _, _ in objects}), sorted(counts)
    decl = (["agent1 - agent"] + [f"{c}Type - otype" for c in o_classes] + [f"{c}Type - rtype" for c in r_classes]
            + [f"{oid} - object" for _, oid, _ in objects] + [f"{rid} - receptacle" for _, rid in receps]
            + [f"loc_bar_{i} - location" for i in range(len(receps) + 1)])
    init = ["(atLocation agent1 loc_bar_0)"]
    for c, rid in receps:
        init += [f"(receptacleType {rid} {c}Type)", f"(receptacleAtLocation {rid} {loc[rid]})"]
        init += [f"(openable {rid})"] if c in C.OPENABLE_CLASS_SET else []
    for c, oid, rid in objects:
        init += [f"(objectType {oid} {c}Type)", f"(inReceptacle {oid} {rid})", f"(objectAtLocation {oid} {loc[rid]})"]
        init += [f"(pickupable {oid})"] if c in PICKUPABLE else []
        init += [f"(isReceptacleObject {oid})"] if c in C.MOVABLE_RECEPTACLES_SET else []
        init += [f"({p.lower()} {oid})" for p in ("Cleanable", "Heatable", "Coolable", "Sliceable", "Toggleable")
                 if c in C.VAL_ACTION_OBJECTS[p]]
    init += [f"(canContain {r}Type {o}Type)" for r in r_classes for o in o_classes if can_contain(r, o)]
    goal = glib.gdict[task_type]["pddl"].format(obj=obj, recep=parent, toggle=toggle).replace("#", "-")
    # "alfworld_gen" is the module's old name, kept: the problem text is hashed (splits, duplicates, caches)
    problem = ("(define (problem alfworld_gen)\n(:domain alfred)\n(:objects\n" + "\n".join(decl) + "\n)\n(:init\n"
               + "\n".join(init) + "\n)\n" + goal.strip() + "\n")
    scene = rng.choice(list(C.SCENE_TYPE[room]))
    traj = {"task_type": task_type,
            "pddl_params": {"object_target": obj, "parent_target": parent, "toggle_target": toggle,
                            "mrecep_target": "", "object_sliced": False},
            "scene": {"floor_plan": f"FloorPlan{scene}", "scene_num": scene, "room_type": room}}
    return problem, traj, f"{task_type}-{obj}-None-{parent or toggle}-{scene}"
