"""Small pieces every subdomain shares: BTC amounts in sats, and reading operator CSV files."""
