"""Tests of tinycrew.tools.desktop: each tool's real effect in a temporary sandbox."""
