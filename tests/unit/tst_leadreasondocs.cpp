// The user guide's "Dead letter reasons" section and the engine's reason table cannot drift:
// every code of allLeadReasons() is in the guide with its title and its action text, word
// for word (line breaks aside), and the section lists no code the engine does not know.
#include "common/suite.h"
#include "queue/leadreason.h"

#include <QFile>
#include <QRegularExpression>
#include <QTest>

#ifndef SLUICE_USER_GUIDE
#error "SLUICE_USER_GUIDE (docs/user-guide.md) must be defined; see tests/unit/CMakeLists.txt"
#endif

using namespace sluice;

namespace {

/// Whitespace runs as one space: the guide wraps its lines.
QString squeezed(const QString &text)
{
    return text.simplified();
}

} // namespace

class TestLeadReasonDocs : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QFile guide(QStringLiteral(SLUICE_USER_GUIDE));
        QVERIFY2(guide.open(QIODevice::ReadOnly), qPrintable(guide.errorString()));
        const QString text = QString::fromUtf8(guide.readAll());
        const qsizetype start = text.indexOf(QLatin1String("\n## Dead letter reasons\n"));
        QVERIFY2(start >= 0, "docs/user-guide.md has no \"## Dead letter reasons\" section");
        const qsizetype end = text.indexOf(QLatin1String("\n## "), start + 1);
        m_section = text.mid(start, end < 0 ? -1 : end - start);
    }

    void everyReasonIsDocumentedWithItsAction_data()
    {
        QTest::addColumn<int>("reason");
        for (LeadReason r : allLeadReasons())
            QTest::newRow(leadReasonCode(r).constData()) << int(r);
    }

    void everyReasonIsDocumentedWithItsAction()
    {
        QFETCH(int, reason);
        const LeadReason r = LeadReason(reason);
        const QString code = QString::fromUtf8(leadReasonCode(r));
        // A heading per reason: "### `code`: Title".
        const QString heading = QStringLiteral("### `%1`: %2").arg(code, leadReasonTitle(r));
        QVERIFY2(m_section.contains(heading), qPrintable(QStringLiteral("missing: ") + heading));
        // The action right under it, as the console and `sluice dead list` print it.
        const qsizetype at = m_section.indexOf(heading) + heading.size();
        const qsizetype next = m_section.indexOf(QLatin1String("\n### "), at);
        const QString body = squeezed(m_section.mid(at, next < 0 ? -1 : next - at));
        QVERIFY2(body.contains(squeezed(leadReasonAction(r))),
                 qPrintable(QStringLiteral("the guide's text for %1 differs from "
                                           "leadReasonAction():\n%2\n---\n%3")
                                .arg(code, body, leadReasonAction(r))));
    }

    void theGuideListsNoUnknownCode()
    {
        static const QRegularExpression heading(QStringLiteral("^### `([a-z_]+)`"),
                                                QRegularExpression::MultilineOption);
        int headings = 0;
        auto it = heading.globalMatch(m_section);
        while (it.hasNext()) {
            const QByteArray code = it.next().captured(1).toUtf8();
            QVERIFY2(leadReasonCode(leadReasonFromCode(code)) == code, code.constData());
            ++headings;
        }
        QCOMPARE(headings, int(allLeadReasons().size()));
    }

private:
    QString m_section;
};

SLUICE_TEST_APPLESS_MAIN(TestLeadReasonDocs)
#include "tst_leadreasondocs.moc"
