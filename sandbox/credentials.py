"""The sandbox's published test credentials: part of its API contract, not secrets."""

CRM_CLIENT_SECRET = "sandbox-secret"
CRM_API_KEY = "sandbox-key"
CRM_UI_PASSWORD = "sandbox-password"
# A dealer's UI login is "<dealer>-user".
CRM_UI_USER_SUFFIX = "-user"
DNC_API_KEY = "sandbox-dnc-key"
HOMENET_KEY = "sandbox-homenet-key"
SHORTENER_KEY = "sandbox-shortener-key"
CHANNEL_TOKEN = "sandbox-channel-token"
