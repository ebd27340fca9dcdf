using System.Diagnostics;
using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Governance;
using Microsoft.AspNetCore.SignalR;

namespace AnalyticsEngine.Gateway.Security;

/// <summary>Endpoint metadata: a POST that changes nothing (a query, a check, a proposal), which the audit trail leaves out.</summary>
public sealed class ChangesNothing
{
    public static readonly ChangesNothing Instance = new();
}

/// <summary>Endpoint metadata: audited without its body (ingest: the rows are data, kept in their own tables).</summary>
public sealed class AuditedWithoutBody
{
    public static readonly AuditedWithoutBody Instance = new();
}

/// <summary>
/// Records every request with a valid token that changes something, or tries to — POST, PUT, PATCH and DELETE of the
/// API, refused ones included — in the audit trail: who, when, on which clients, what, how it ended (the status the
/// caller got, from an exception handler too), and for an accepted JSON change its body. It runs after authentication
/// and before authorization, so a refusal for want of a role is recorded with who asked. The entry goes to the
/// <see cref="AuditWriter"/> once the response has gone, so no caller waits for it.
/// </summary>
/// <remarks>
/// Some refusals are not rate-limited (the limiter runs after authorization, and a 429 is its own). Rather than tell
/// them apart from the 403s and 415s given after the limiter, every request refused with 403, 413, 415 or 429 counts:
/// of an actor's, at most <see cref="RefusalsPerMinute"/> a minute are recorded, and the rest are counted
/// (<c>ae.audit.refusals_not_recorded</c>).
/// Paths are kept to <see cref="MaxPathLength"/> characters, and only well-formed client ids.
/// </remarks>
public sealed class AuditTrail(RequestDelegate next, AuditWriter writer)
{
    /// <summary>The most of an accepted body an entry keeps, in characters.</summary>
    public const int MaxBodyBytes = 16 * 1024;

    public const int MaxPathLength = 2048;

    public const int RefusalsPerMinute = 60;

    /// <summary>Where <see cref="ClientAccessFilter"/> leaves the client ids it checked, body ones included.</summary>
    internal const string ClientIdsItem = "ae.audit.clientIds";

    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var endpoint = context.GetEndpoint();
        // A request without a valid token identifies nobody and changes nothing; recorded, anyone could fill the trail.
        // Nor one no endpoint takes: routing answers a method or body type none reads (405, 415) with an endpoint of its
        // own, which is no RouteEndpoint and names neither the route nor its clients.
        if (!IsChange(context.Request.Method) || endpoint is not RouteEndpoint || context.User.Identity?.IsAuthenticated != true
            || endpoint.Metadata.GetMetadata<ChangesNothing>() is not null
            || endpoint.Metadata.GetMetadata<HubMetadata>() is not null)
        {
            await next(context);
            return;
        }

        var request = context.Request;
        // A chunked body (no Content-Length: HttpClient's JsonContent) is kept too; the endpoint's own limit bounds it.
        var keepBody = endpoint.Metadata.GetMetadata<AuditedWithoutBody>() is null
            && request.ContentLength is null or (> 0 and <= GatewaySecurity.MaxJsonBodyBytes)
            && request.HasJsonContentType();
        if (keepBody)
        {
            request.EnableBuffering(MaxBodyBytes);
        }

        // Taken now: an exception handler clears the route values before it answers.
        var at = DateTimeOffset.UtcNow;
        var action = $"{request.Method} {RouteOf(endpoint) ?? Cut(request.Path.Value ?? "")}";
        var path = Cut(request.Path.Value + request.QueryString.Value);
        var named = NamedClientIds(request);
        var actor = context.User.Identity?.Name ?? "";
        var traceId = Activity.Current?.TraceId.ToString();
        string? body = null;
        try
        {
            await next(context);
            if (keepBody && IsSuccess(context.Response.StatusCode))
            {
                body = await BodyAsync(request);
            }
        }
        finally
        {
            // Read when the response has gone: a refusal an exception handler answers has its status only then.
            context.Response.OnCompleted(() =>
            {
                var status = context.Response.StatusCode;
                if (!IsUnmetered(status) || writer.TryRecordRefusal(actor))
                {
                    var clientIds = context.Items[ClientIdsItem] as IReadOnlyList<string> ?? named;
                    writer.Write(new AuditEntry(
                        at, actor, RolesOf(context.User), [.. clientIds.Where(ClientIds.IsWellFormed).Distinct(StringComparer.Ordinal)],
                        action, path, status, traceId, IsSuccess(status) ? body : null));
                }

                return Task.CompletedTask;
            });
        }
    }

    private static bool IsSuccess(int status) => status is >= 200 and < 300;

    /// <summary>
    /// A refusal given before the per-client rate limiter meters the request, or by it: for want of a role (403), of a
    /// body too large (413) or of an unsupported one (415), or for too many requests (429).
    /// </summary>
    private static bool IsUnmetered(int status) => status is 403 or 413 or 415 or 429;

    private static bool IsChange(string method) =>
        HttpMethods.IsPost(method) || HttpMethods.IsPut(method) || HttpMethods.IsPatch(method) || HttpMethods.IsDelete(method);

    private static string Cut(string text) => Cut(text, MaxPathLength);

    /// <summary>The text, or its first <paramref name="length"/> characters and "…", never ending inside a surrogate pair.</summary>
    internal static string Cut(string text, int length)
    {
        if (text.Length <= length)
        {
            return text;
        }

        var end = char.IsHighSurrogate(text[length - 1]) ? length - 1 : length;
        return text[..end] + "…";
    }

    /// <summary>The endpoint's route pattern; a group's own route ("/clients/" of POST /clients) without its trailing slash.</summary>
    private static string? RouteOf(Endpoint endpoint) =>
        (endpoint as RouteEndpoint)?.RoutePattern.RawText is { Length: > 1 } pattern ? pattern.TrimEnd('/') : (endpoint as RouteEndpoint)?.RoutePattern.RawText;

    private static string[] RolesOf(ClaimsPrincipal user) =>
        user.Identity is ClaimsIdentity { IsAuthenticated: true } identity
            ? [.. identity.FindAll(identity.RoleClaimType).Select(c => c.Value).Distinct().Order(StringComparer.Ordinal)]
            : [];

    /// <summary>
    /// The client ids in the path and query: what the entry names when the access check did not run (it reads the body's
    /// too, and leaves them in <see cref="ClientIdsItem"/>). A malformed one was refused and names no client.
    /// </summary>
    private static string[] NamedClientIds(HttpRequest request) =>
    [
        .. request.RouteValues.TryGetValue("clientId", out var fromRoute) && fromRoute is string id ? [id] : Array.Empty<string>(),
        .. request.Query["clientId"].OfType<string>(),
    ];

    /// <summary>
    /// The accepted body without the whitespace between its tokens (padding hides nothing), cut at
    /// <see cref="MaxBodyBytes"/> characters with a closing "…" when longer.
    /// </summary>
    private static async Task<string?> BodyAsync(HttpRequest request)
    {
        try
        {
            request.Body.Position = 0;
            using var document = await JsonDocument.ParseAsync(request.Body);
            return Cut(JsonSerializer.Serialize(document.RootElement, Compact), MaxBodyBytes);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Not UTF-8 JSON, or a string the writer refuses (a lone surrogate): the change stands, its body is not kept.
            return null;
        }
    }

    // As the caller wrote its text: no \u escapes for quotes, '<' or letters beyond ASCII.
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
