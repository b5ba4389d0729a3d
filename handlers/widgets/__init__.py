"""Small UI pieces shared by several features."""
