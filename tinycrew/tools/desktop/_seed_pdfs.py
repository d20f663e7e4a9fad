"""Regenerates the seed PDFs in seed/Documents: ``python -m tinycrew.tools.desktop._seed_pdfs``.

The PDFs are committed; this script is how they were made, so their text can be changed in review.
"""

from __future__ import annotations

from pathlib import Path

from tinycrew.tools.desktop.minipdf import write_pdf

DOCUMENTS: dict[str, tuple[str, list[str]]] = {
    "hedgehog_survey.pdf": (
        "Winter Hedgehog Survey 2026 - River Transect Results",
        [
            "Volunteers walked the 2.4 km river transect on 18 evenings between 1 September and "
            "30 November 2026, counting hedgehogs seen with torches and footprint tunnels.",
            "Results: 37 sightings of at least 14 distinct hedgehogs, up from 22 sightings in 2025. "
            "Most sightings were near the allotments and the churchyard hedge. Two animals were found "
            "underweight in November and taken to the rescue centre.",
            "Recommendations: cut 13 cm x 13 cm holes in the two new garden fences on Mill Lane, keep the "
            "churchyard hedge uncut until March, and repeat the footprint tunnels in April.",
            "Contact: Odile Menard, Herisson Conservation.",
        ],
    ),
    "q1_budget_draft.pdf": (
        "Q1 2027 Budget Draft",
        [
            "Total proposed spending for January to March 2027 is 48,200 EUR.",
            "Staff: 31,000 EUR. Field equipment (trail cameras, footprint tunnels): 6,400 EUR. "
            "Travel: 7,300 EUR, including two conference trips. Outreach and printing: 3,500 EUR.",
            "Open question: the travel line is 40% higher than in Q4 2026 because of the Lisbon "
            "conference fees. Kofi Mensah asks for a decision before Friday.",
        ],
    ),
    "flat_lease_summary.pdf": (
        "Lease Agreement - 14 Mill Lane, Flat 2",
        [
            "Tenant: Sam Whitfield. Landlord: Ingrid Haugen. Term: 12 months from 1 February 2026.",
            "Monthly rent is 950 GBP, due on the first day of each month. The deposit is 1,100 GBP.",
            "Notice: either party may end the lease with two months' written notice after the first "
            "six months. Pets are allowed with written consent; the garden must be kept hedgehog "
            "friendly.",
        ],
    ),
    "train_tickets_lisbon.pdf": (
        "E-ticket: London St Pancras to Lisbon",
        [
            "Passenger: Sam Whitfield. Booking reference: TQX4HZ.",
            "Outbound: 14 March 2027, depart London St Pancras 08:01, arrive Paris Nord 11:20; "
            "Paris Montparnasse 13:12 to Hendaye; night train to Lisbon Santa Apolonia, arriving "
            "15 March 07:45.",
            "Seat 42, coach 7. Please show this ticket with photo ID.",
        ],
    ),
}


def main(folder: Path | None = None) -> list[Path]:
    """Write every seed PDF into ``folder`` (default: seed/Documents next to this file)."""
    folder = folder or Path(__file__).with_name("seed") / "Documents"
    folder.mkdir(parents=True, exist_ok=True)
    return [write_pdf(folder / name, title, text) for name, (title, text) in DOCUMENTS.items()]


if __name__ == "__main__":
    for path in main():
        print(path)
