"""Tests of tinycrew.tools."""
