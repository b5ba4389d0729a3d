"""Test infrastructure (fake servers, PostgreSQL cluster, harnesses); no tests are collected here."""
