-- Sluice lead reasons: the codes of sluice::LeadReason (engine/queue/leadreason.cpp), the one
-- list of why a lead is parked or dead-lettered. Prepended (by bundledLuaScript) to every
-- script whose first lines say "-- include: reasons". Never rename a code: dead letters keep
-- them.
local reasons = {
  UNKNOWN = 'unknown',
  CAMPAIGN_MISSING = 'campaign_missing',
  CLOSE_LEAD_MISSING = 'close_lead_missing',
  NO_USABLE_EMAIL = 'no_usable_email',
  UNSUBSCRIBED = 'unsubscribed',
  CLOSE_LEAD_UNUSABLE = 'close_lead_unusable',
  BLOCKLISTED = 'blocklisted',
  INVALID_EMAIL = 'invalid_email',
  INCOMPLETE = 'incomplete',
  PLAN_EXHAUSTED = 'plan_exhausted',
  NOT_CREATED = 'not_created',
  SKIPPED_BY_FLAG = 'skipped_by_flag',
  REJECTED = 'rejected',
  GAVE_UP = 'gave_up',
  UNREADABLE_ENTRY = 'unreadable_entry',
}
