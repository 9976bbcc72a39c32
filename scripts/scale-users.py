#!/usr/bin/env python3
"""Writes N generated users as Accrete JSONL (docs/import-export.md) for `scripts/scale-bench`.

Deterministic: the same N and seed give the same file. The values follow the fields of
examples/policy.toml (types, options, patterns, bounds) so that an import with that policy
keeps them all; not every user has every value, in the proportions below (roughly those of a
product a few years old whose progressive profiling asked most users a little). No password
hashes: the import is measured without password hashing.

    scripts/scale-users.py N [--seed S] > users.jsonl
"""

import argparse
import datetime
import itertools
import json
import random
import sys

GIVEN = ("Ada Alan Grace Linus Margaret Ken Barbara Edsger Frances Donald John Radia Tim Hedy "
         "Dennis Katherine Niklaus Leslie Shafi Sophie Lucas Emma Louis Chloe Hugo Lea Jules "
         "Manon Paul Ines Arthur Camille Noah Sarah Liam Olivia Mateo Sofia Yuki Wei Priya "
         "Aarav Fatima Omar Amara Kofi Ingrid Lars Anna Marco").split()
FAMILY = ("Lovelace Turing Hopper Torvalds Hamilton Thompson Liskov Dijkstra Allen Knuth Backus "
          "Perlman Berners-Lee Lamarr Ritchie Johnson Wirth Lamport Goldwasser Martin Bernard "
          "Dubois Durand Leroy Moreau Simon Laurent Lefebvre Michel Garcia Muller Schmidt Rossi "
          "Tanaka Wang Patel Khan Okafor Nilsen Kowalski Silva Costa Novak Ivanova Cohen").split()
DOMAINS = ("gmail.com outlook.com yahoo.com proton.me icloud.com example.com example.org "
           "example.net").split()
LOCALES = [("en", 50), ("fr", 20), ("de", 10), ("es", 8), ("it", 5), ("pt-BR", 4), ("ja", 3)]
COUNTRIES = [("US", 30), ("FR", 18), ("DE", 10), ("GB", 9), ("ES", 6), ("IT", 5), ("BR", 5),
             ("IN", 5), ("JP", 4), ("CA", 4), ("NL", 2), ("SE", 2)]
TITLES = ("Engineer,Senior Engineer,Engineering Manager,CTO,CEO,Product Manager,Designer,"
          "Data Scientist,Sales Manager,Account Executive,Marketing Lead,Consultant,Founder,"
          "Analyst,Support Engineer,DevOps Engineer,Security Engineer,Student").split(",")
SIZES = [("1-10", 40), ("11-50", 30), ("51-500", 20), ("500+", 10)]
PLANS = [("free", 80), ("pro", 17), ("enterprise", 3)]
INTERESTS = ["security", "identity", "devops", "design"]
# Companies: a long tail (Zipf-like weights), so that a few are common and most are rare.
COMPANIES = [f"Company {n}" for n in range(1, 5001)]
COMPANY_CUMULATIVE = list(itertools.accumulate(1.0 / n for n in range(1, 5001)))
START = datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc)
SPAN_SECONDS = 3 * 365 * 86400


def pick(rng, weighted):
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


def user(rng, i):
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    # Unique by construction: the sequence number is part of the address.
    email = f"{given.lower()}.{family.lower()}.{i}@{rng.choice(DOMAINS)}"
    created = START + datetime.timedelta(seconds=rng.randrange(SPAN_SECONDS))
    profile, user_metadata, app_metadata = {}, {}, {}
    if rng.random() < 0.95:
        profile["given_name"] = given
    if rng.random() < 0.90:
        profile["family_name"] = family
    if rng.random() < 0.60:
        profile["locale"] = pick(rng, LOCALES)
    if rng.random() < 0.25:
        # A French mobile number (the policy's default region is FR), E.164.
        # (06 39 and most of 06 9x are not mobile numbers in libphonenumber's metadata: the
        # second digit is one of 0, 1, 2, 4 to 8, drawn as before with 0 for 3.)
        second = "12045678"[rng.randint(1, 8) - 1]
        profile["phone_number"] = f"+336{second}{rng.randrange(10**7):07d}"
    if rng.random() < 0.20:
        born = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(55 * 365))
        profile["birthdate"] = born.isoformat()
    if rng.random() < 0.05:
        profile["website"] = f"https://{family.lower()}{i}.example.com"
    if rng.random() < 0.90:
        user_metadata["terms"] = {"accepted": True, "version": "2026-01"}
    if rng.random() < 0.40:
        user_metadata["company"] = rng.choices(COMPANIES, cum_weights=COMPANY_CUMULATIVE)[0]
    if rng.random() < 0.35:
        user_metadata["job_title"] = rng.choice(TITLES)
    if rng.random() < 0.30:
        user_metadata["country"] = pick(rng, COUNTRIES)
    if rng.random() < 0.15:
        user_metadata["interests"] = rng.sample(INTERESTS, rng.randint(1, 3))
    if rng.random() < 0.30:
        user_metadata["newsletter"] = rng.random() < 0.4
    if rng.random() < 0.10:
        user_metadata["team_size"] = rng.randint(1, 200)
    if rng.random() < 0.03:
        user_metadata["bio"] = f"{rng.choice(TITLES)} who likes {rng.choice(INTERESTS)}."
    app_metadata["plan"] = pick(rng, PLANS)
    if rng.random() < 0.20:
        app_metadata["company_size"] = pick(rng, SIZES)
    if rng.random() < 0.05:
        letters = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(2))
        app_metadata["employee_id"] = f"{letters}{rng.randrange(10000):04d}"
    return {
        "email": email,
        "email_verified": rng.random() < 0.85,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "profile": profile,
        "user_metadata": user_metadata,
        "app_metadata": app_metadata,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="how many users")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for i in range(args.n):
        out.write(dumps(user(rng, i)))
        out.write("\n")


if __name__ == "__main__":
    main()
