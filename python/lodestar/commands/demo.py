"""Lodestar's main job end to end: survey, ingest, light curves, crossmatch, dimming search, plots."""

from __future__ import annotations


def main(argv: list[str]) -> int:
    from lodestar.workflow import main as workflow_main

    return workflow_main(argv)
