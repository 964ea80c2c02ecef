#pragma once

#include "close/closelead.h"
#include "net/apitransport.h"

#include <QHash>
#include <QObject>
#include <QStringList>
#include <QTimer>

#include <chrono>
#include <deque>
#include <functional>
#include <vector>

namespace sluice {

class CloseClient;

struct CloseLookupOptions
{
    /// Lead ids per search request, 1..CloseClient::kSearchPageMax.
    int batch = 100;
    /// Ids asked for within this window of the first are searched together.
    std::chrono::milliseconds window { 20 };
    /// Search requests under way at once; ids asked for meanwhile gather for the next.
    int maxSearches = 2;
    /// After Close refused the search endpoint itself, single GETs for this long.
    std::chrono::milliseconds refusedFor { 600'000 };
};

/// How one lookup ended.
struct CloseLookupAnswer
{
    enum class Status {
        Found, ///< `leads` holds what the Close lead yields (perhaps nothing usable)
        NotFound, ///< Close does not know the lead, searched and asked for singly
        Failed, ///< `call` says how: Transient / ErrorInBody (try later) or Permanent
    };
    Status status = Status::Failed;
    CloseLeadConversion leads;
    ApiResult call; ///< the request that decided it
    QString reason; ///< NotFound and Failed: what to tell the operator
};

/// Looks up Close leads by id for a dispatcher, many per request: ids asked for together go
/// out as one POST /api/v1/data/search/ (Close's Advanced Filtering), the way sends are
/// coalesced. An id the search does not return is asked for singly once (GET
/// /api/v1/lead/{id}/) before it counts as not found. When Close refuses the search endpoint
/// itself (400, or 403/404 on that path), every lookup falls back to single GETs for a while,
/// and the log says so once. A 429 is no failure: the request goes again once the CloseGate on
/// the client's transport lets it (its rate_reset). Lives on its owner's thread.
class CloseLookup : public QObject
{
    Q_OBJECT
public:
    /// `client` must outlive the lookup.
    CloseLookup(CloseClient *client, CloseLookupOptions options, QObject *parent = nullptr);
    ~CloseLookup() override;

    using Done = std::function<void(const CloseLookupAnswer &)>;
    /// Calls `done` once, later. Several callers of one id share its lookup.
    void lookUp(const QString &leadId, Done done);

    /// Ids asked for and not yet answered.
    int pending() const { return int(m_waiting.size()); }
    bool searchRefused() const;
    /// Requests made so far, by kind.
    qint64 searches() const { return m_searches; }
    qint64 singles() const { return m_singles; }

Q_SIGNALS:
    /// Something the operator should read once (the search fell back to single GETs).
    void noticeRaised(const QString &message);

private:
    void schedule();
    void flush();
    void search(QStringList ids, const QString &cursor);
    void single(const QString &leadId);
    void answer(const QString &leadId, const CloseLookupAnswer &answer);

    CloseClient *m_client;
    CloseLookupOptions m_options;
    QHash<QString, std::vector<Done>> m_waiting; ///< by lead id
    std::deque<QString> m_queue; ///< ids waiting for a search, oldest first
    QTimer m_window;
    int m_searching = 0;
    qint64 m_refusedUntilMs = 0; ///< monotonic ms
    bool m_refusalNoted = false;
    qint64 m_searches = 0;
    qint64 m_singles = 0;
};

} // namespace sluice
