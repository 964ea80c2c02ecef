#pragma once

#include "core/result.h"

#include <QString>

#include <memory>

class QLockFile;

namespace sluice {

/// This process's instance name, kept in the data directory so that it survives a restart:
/// a restarted serve is the same Redis consumer and takes back its own unsettled leads at
/// once, instead of waiting out --claim-idle as if they were a dead stranger's (fencing keeps
/// that safe: see StreamConsumer's history read).
///
/// Several processes may share one data directory: each takes the first free slot
/// `instance-<k>.lock` (a QLockFile, freed when the process exits or dies) and the name kept
/// beside it in `instance-<k>.id`, made once from the host name and a random part. An explicit
/// name (--instance) takes `instance-<name>.lock`, so two live processes never share a name.
class InstanceLease
{
public:
    static constexpr int kMaxSlots = 64;

    /// Takes a slot in `dataDir` (which must exist), or says why not.
    static Result<std::unique_ptr<InstanceLease>, QString> take(const QString &dataDir,
                                                                const QString &explicitName = {});
    ~InstanceLease();
    InstanceLease(const InstanceLease &) = delete;
    InstanceLease &operator=(const InstanceLease &) = delete;

    /// "myhost-3f9a0c1d" (or the explicit name): the dispatchers' consumer names start with it.
    const QString &name() const { return m_name; }
    /// The slot taken: 0, 1, ... (-1 for an explicit name).
    int slot() const { return m_slot; }

private:
    InstanceLease() = default;

    std::unique_ptr<QLockFile> m_lock;
    QString m_name;
    int m_slot = -1;
};

} // namespace sluice
