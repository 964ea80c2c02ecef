-- include: journal
-- include: intake
-- Sluice intake: stores one accepted request atomically (lib/intake.lua says how, and what
-- KEYS and ARGV hold). The spool's replay and a lone webhook use it.
return intake.enqueue(KEYS, ARGV, true)
