#pragma once

// Q_DECLARE_METATYPE for the engine's types that suites fetch from data tables, declared once:
// a directory's suites share a translation unit in the unity build, where a type declared twice
// is an error.

#include "close/closesignature.h"
#include "core/apicall.h"
#include "redis/rediserror.h"
#include "redis/redisoptions.h"
#include "redis/redisurl.h"

#include <QMetaType>

Q_DECLARE_METATYPE(sluice::CallOutcome)
Q_DECLARE_METATYPE(sluice::RedisError::Kind)
Q_DECLARE_METATYPE(sluice::RedisUrl::Transport)
Q_DECLARE_METATYPE(sluice::SignatureStatus)
Q_DECLARE_METATYPE(sluice::TlsVerification)
