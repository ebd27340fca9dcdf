using System.Text.RegularExpressions;

namespace AnalyticsEngine.Clients;

/// <summary>
/// What can name a client: lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 64. The
/// gateway refuses anything else before it reaches a grain, and a client is never created under it: an id ends up in
/// URLs, headers (Location), cache keys and log lines, where a line break or a ':' would mean something else.
/// </summary>
public static partial class ClientIds
{
    public static bool IsWellFormed(string? clientId) => clientId is not null && Pattern().IsMatch(clientId);

    // \z, not $: $ also matches before a final line break, so "acme\n" would pass.
    [GeneratedRegex(@"^[a-z0-9][a-z0-9_-]{0,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}

/// <summary>
/// A request that names the client it is about: the gateway checks that the caller's token grants that client before
/// anything else reads it. Gateway request bodies and grain contracts read as bodies directly both implement it.
/// </summary>
public interface IClientScoped
{
    string? ClientId { get; }
}
