#include "closelookup.h"

#include "close/closeclient.h"

#include <QDeadlineTimer>
#include <QLoggingCategory>
#include <QPointer>
#include <QSet>

#include <algorithm>

namespace sluice {

Q_LOGGING_CATEGORY(lcCloseLookup, "sluice.close")

namespace {

qint64 monotonicMs()
{
    return QDeadlineTimer::current().deadline();
}

/// Close refused the search endpoint itself, not the key: 400 (the query form), or 403/404 on
/// this path while single GETs may still work.
bool searchRefusal(const ApiResult &r)
{
    return r.outcome == CallOutcome::Permanent
        && (r.httpStatus == 400 || r.httpStatus == 403 || r.httpStatus == 404);
}

} // namespace

CloseLookup::CloseLookup(CloseClient *client, CloseLookupOptions options, QObject *parent)
    : QObject(parent)
    , m_client(client)
    , m_options(options)
{
    m_options.batch = std::clamp(m_options.batch, 1, CloseClient::kSearchPageMax);
    m_options.maxSearches = std::max(1, m_options.maxSearches);
    m_window.setSingleShot(true);
    connect(&m_window, &QTimer::timeout, this, &CloseLookup::flush);
}

CloseLookup::~CloseLookup() = default;

bool CloseLookup::searchRefused() const
{
    return m_refusedUntilMs > monotonicMs();
}

void CloseLookup::lookUp(const QString &leadId, Done done)
{
    auto &callers = m_waiting[leadId];
    callers.push_back(std::move(done));
    if (callers.size() > 1)
        return; // under way
    if (m_options.batch <= 1 || searchRefused()) {
        single(leadId);
        return;
    }
    m_queue.push_back(leadId);
    schedule();
}

void CloseLookup::schedule()
{
    if (int(m_queue.size()) >= m_options.batch)
        flush();
    else if (!m_queue.empty() && !m_window.isActive())
        m_window.start(m_options.window);
}

void CloseLookup::flush()
{
    if (searchRefused()) {
        while (!m_queue.empty()) {
            single(m_queue.front());
            m_queue.pop_front();
        }
        return;
    }
    while (m_searching < m_options.maxSearches && !m_queue.empty()) {
        QStringList ids;
        while (!m_queue.empty() && ids.size() < m_options.batch) {
            ids << m_queue.front();
            m_queue.pop_front();
        }
        ++m_searching;
        search(ids, {});
    }
    m_window.stop();
    if (!m_queue.empty() && m_searching < m_options.maxSearches)
        m_window.start(m_options.window);
}

void CloseLookup::search(QStringList ids, const QString &cursor)
{
    ++m_searches;
    QPointer<CloseLookup> self(this);
    m_client->searchLeads(ids, m_options.batch, cursor, [self, ids](ApiReply<CloseSearchPage> r) {
        if (!self)
            return;
        if (!r.ok()) {
            const ApiResult &e = r.error();
            if (e.outcome == CallOutcome::RateLimited) {
                // Back to the front of the line; the gate waits out Close's rate_reset.
                for (auto it = ids.crbegin(); it != ids.crend(); ++it)
                    self->m_queue.push_front(*it);
            } else if (searchRefusal(e)) {
                self->m_refusedUntilMs = monotonicMs() + self->m_options.refusedFor.count();
                if (!self->m_refusalNoted) {
                    self->m_refusalNoted = true;
                    const QString message
                        = QStringLiteral("Close refused the lead search (%1): looking "
                                         "leads up one GET at a time for now")
                              .arg(e.describe());
                    qCWarning(lcCloseLookup).noquote() << message;
                    Q_EMIT self->noticeRaised(message);
                }
                for (const QString &id : ids)
                    self->single(id);
            } else {
                CloseLookupAnswer failed;
                failed.call = e;
                failed.reason = QStringLiteral("Close lead search: %1").arg(e.describe());
                for (const QString &id : ids)
                    self->answer(id, failed);
            }
            --self->m_searching;
            self->flush();
            return;
        }
        QSet<QString> missing(ids.cbegin(), ids.cend());
        for (const CloseSearchPage::Found &found : r->leads) {
            if (!missing.remove(found.leadId))
                continue; // not asked for, or already answered
            CloseLookupAnswer a;
            a.call = r.call();
            if (found.conversion.ok()) {
                a.status = CloseLookupAnswer::Status::Found;
                a.leads = found.conversion.value();
            } else {
                a.call.outcome = CallOutcome::Permanent;
                a.reason = QStringLiteral("Close lead %1 is unusable: %2")
                               .arg(found.leadId, found.conversion.error());
            }
            self->answer(found.leadId, a);
        }
        if (!missing.isEmpty() && !r->cursor.isEmpty()) {
            QStringList rest;
            for (const QString &id : ids)
                if (missing.contains(id))
                    rest << id;
            self->search(rest, r->cursor); // the same slot: one search, several pages
            return;
        }
        for (const QString &id : ids)
            if (missing.contains(id))
                self->single(id);
        --self->m_searching;
        self->flush();
    });
}

void CloseLookup::single(const QString &leadId)
{
    ++m_singles;
    QPointer<CloseLookup> self(this);
    m_client->fetchLeads(leadId, [self, leadId](ApiReply<CloseLeadConversion> r) {
        if (!self)
            return;
        CloseLookupAnswer a;
        a.call = r.call();
        if (r.ok()) {
            a.status = CloseLookupAnswer::Status::Found;
            a.leads = r.value();
        } else if (r.error().outcome == CallOutcome::RateLimited) {
            self->single(leadId); // the gate waits out Close's rate_reset first
            return;
        } else if (r.error().httpStatus == 404) {
            a.status = CloseLookupAnswer::Status::NotFound;
            a.reason = QStringLiteral("lead %1 not found in Close").arg(leadId);
        } else {
            a.reason = QStringLiteral("Close lookup of %1: %2").arg(leadId, r.error().describe());
        }
        self->answer(leadId, a);
    });
}

void CloseLookup::answer(const QString &leadId, const CloseLookupAnswer &answer)
{
    const std::vector<Done> callers = m_waiting.take(leadId);
    for (const Done &done : callers)
        done(answer);
}

} // namespace sluice

#include "moc_closelookup.cpp" // NOLINT(bugprone-suspicious-include)
