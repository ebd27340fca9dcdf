using System.Globalization;
using AnalyticsEngine.Batch;

namespace AnalyticsEngine.Gateway.Api;

/// <summary>
/// How <c>GET /batch/jobs</c> names where its next page starts (its <c>after</c> parameter): the last listed job's
/// creation time in Unix microseconds, as stored, and its id, e.g. <c>1795939200123456_0f3c…</c>.
/// </summary>
internal static class JobCursor
{
    public static string Format(BatchJobCursor cursor) =>
        ((cursor.CreatedAt.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10).ToString(CultureInfo.InvariantCulture) + "_" + cursor.JobId;

    /// <summary>
    /// The cursor, or null when <paramref name="text"/> is not one <see cref="Format"/> writes: a job's creation time
    /// (after 1970, so no sign) in digits without padding, and a job id as the gateway makes them. Anything else was
    /// not given by this list, and read loosely it would start a page somewhere the caller did not mean (a negative
    /// time before every job: the first page again).
    /// </summary>
    public static BatchJobCursor? Parse(string text)
    {
        var separator = text.IndexOf('_', StringComparison.Ordinal);
        if (separator < 1
            || !long.TryParse(text.AsSpan(0, separator), NumberStyles.None, CultureInfo.InvariantCulture, out var micros)
            || micros > (DateTimeOffset.MaxValue.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10
            || !JobIds.IsJobId(text[(separator + 1)..]))
        {
            return null;
        }

        var cursor = new BatchJobCursor(DateTimeOffset.UnixEpoch.AddTicks(micros * 10), text[(separator + 1)..]);
        // Leading zeros read as the same time but are not how a page names the next one.
        return string.Equals(Format(cursor), text, StringComparison.Ordinal) ? cursor : null;
    }
}

/// <summary>Job ids as the gateway makes them when a job is scheduled: a GUID's 32 lowercase hexadecimal digits.</summary>
internal static class JobIds
{
    public static string New() => Guid.NewGuid().ToString("N");

    public static bool IsJobId(string text) => text.Length == 32 && text.All(char.IsAsciiHexDigitLower);
}
