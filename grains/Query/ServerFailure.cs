using System.Diagnostics;

namespace AnalyticsEngine.Query;

/// <summary>
/// What a caller is told of a failure on the server's side: what failed and the trace id that finds it in the log. The
/// exception's own words (a database server's message, a statement's text, a host name) stay in the log.
/// </summary>
internal static class ServerFailure
{
    public static string Describe(string what) => Activity.Current is { } activity
        ? $"{what} failed on the server's side (trace {activity.TraceId}, in the server's log). It may succeed if tried again."
        : $"{what} failed on the server's side (in the server's log). It may succeed if tried again.";
}
