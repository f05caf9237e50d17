"""Policy engine: versioned rules, pure evaluation, evaluation records and breaches."""
