using AnalyticsEngine.Catalog;
using AnalyticsEngine.Proposals;

namespace AnalyticsEngine.Archive;

/// <summary>
/// The time rules of retention: where the active period of a kind of data begins, when an archived segment is due for
/// deletion, and which segments a query over a range reads. Days are UTC days.
/// </summary>
public static class RetentionHorizons
{
    /// <summary>
    /// The shortest active period a policy may set. Queries that start within <see cref="NeverArchivedDays"/> of now
    /// then never need the archive, and a late event of the last week still lands in the active tables.
    /// </summary>
    public const int MinActiveDays = 7;

    /// <summary>A query whose range starts no more than this many days ago reads no archived rows, whatever the policy.</summary>
    public const int NeverArchivedDays = MinActiveDays - 1;

    /// <summary>Rows older than this leave the active tables: the start of today (UTC) less the active days.</summary>
    public static DateTimeOffset Horizon(DateTimeOffset now, int activeDays) => StartOfDay(now).AddDays(-activeDays);

    public static DateTimeOffset StartOfDay(DateTimeOffset instant) => new(instant.UtcDateTime.Date, TimeSpan.Zero);

    /// <summary>Whether a query starting at <paramref name="from"/> may read archived rows (and so must ask the archive first).</summary>
    public static bool MayReadArchive(DateTimeOffset from, DateTimeOffset now) => from < now.AddDays(-NeverArchivedDays);

    /// <summary>
    /// When a segment is deleted: its data is kept its active days and then its archive days after its newest time;
    /// null while archives are kept for good (or no policy says otherwise).
    /// </summary>
    public static DateTimeOffset? ExpiresAt(ArchiveSegment segment, ProposalRetention? policy)
    {
        var plan = segment.Kind == ArchivedDataKind.Source ? policy?.StagedSourceData : policy?.AnalyticsData;
        if (plan is null || (plan.Archive && plan.ArchiveDays is null))
        {
            return null;
        }

        return segment.To.AddDays(plan.ActiveDays + (plan.Archive ? plan.ArchiveDays!.Value : 0));
    }

    /// <summary>
    /// Whether a query over [<paramref name="from"/>, <paramref name="to"/>) reads a segment's rows: an event object's
    /// when its times overlap the range; a snapshot object's when they are before the range's end (a key's latest row
    /// as of a bucket may be older than the range) and the range starts before the rows that replaced them.
    /// </summary>
    public static bool IsRead(ArchiveSegment segment, ObjectKind kind, DateTimeOffset from, DateTimeOffset to) =>
        segment.Kind == ArchivedDataKind.Source && segment.From < to
        && (kind == ObjectKind.Snapshot ? segment.ReplacedBefore is not { } replaced || from < replaced : segment.To > from);
}
