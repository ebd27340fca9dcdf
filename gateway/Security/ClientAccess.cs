using System.Security.Claims;
using AnalyticsEngine.Clients;

namespace AnalyticsEngine.Gateway.Security;


/// <summary>A request body that names several clients, e.g. a batch of queries (checked by <see cref="ClientAccessFilter"/>).</summary>
public interface IClientsScoped
{
    /// <summary>The clients the body names (a method, not a property, so it is no field of the body's JSON).</summary>
    IEnumerable<string?> NamedClientIds();
}

/// <summary>The clients a caller may see, read from its token's <c>clients</c> claim.</summary>
public sealed class ClientGrant
{
    public static readonly ClientGrant None = new(false, new HashSet<string>(StringComparer.Ordinal));

    private readonly HashSet<string> _clientIds;

    private ClientGrant(bool all, HashSet<string> clientIds)
    {
        All = all;
        _clientIds = clientIds;
    }

    /// <summary>True for <c>*</c>: every client, including ones created later.</summary>
    public bool All { get; }

    public IReadOnlyCollection<string> ClientIds => _clientIds;

    public bool Allows(string clientId) => All || _clientIds.Contains(clientId);

    internal static ClientGrant From(IEnumerable<string> values)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            foreach (var id in value.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (id == ClientAccess.AllClients)
                {
                    return new ClientGrant(true, ids);
                }

                ids.Add(id);
            }
        }

        return ids.Count == 0 ? None : new ClientGrant(false, ids);
    }
}

/// <summary>
/// The one rule of client isolation, used by HTTP (<see cref="ClientAccessFilter"/>) and the hub: a caller
/// sees a client only when its token's <c>clients</c> claim lists it or is <c>*</c>.
/// </summary>
public static class ClientAccess
{
    /// <summary>Claim listing the client ids a caller may see: space-separated, repeated, or a JSON array.</summary>
    public const string ClaimType = "clients";

    public const string AllClients = "*";

    /// <summary>What a well-formed client id looks like (the client configuration grain enforces the same rule).</summary>
    public const string FormatDescription = "1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit";

    public static ClientGrant GrantOf(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        return user.Identity?.IsAuthenticated == true
            ? ClientGrant.From(user.FindAll(ClaimType).Select(c => c.Value))
            : ClientGrant.None;
    }

    public static bool CanAccess(ClaimsPrincipal user, string clientId) => GrantOf(user).Allows(clientId);

    public static string DeniedMessage(string clientId) =>
        $"Your token does not grant access to client '{clientId}'.";
}

/// <summary>
/// Client isolation for HTTP: every client id a request names (route value <c>clientId</c>, query
/// <c>clientId</c>, or a body that is <see cref="IClientScoped"/> or <see cref="IClientsScoped"/>) must be well formed (else 400) and
/// granted by the caller's token (else 403). Applied to the whole API group, so new endpoints get it too.
/// </summary>
public sealed class ClientAccessFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);

        ClientGrant? grant = null;
        var requested = RequestedClientIds(context).ToList();
        context.HttpContext.Items[AuditTrail.ClientIdsItem] = requested;
        foreach (var clientId in requested)
        {
            if (!ClientIds.IsWellFormed(clientId))
            {
                return TypedResults.ValidationProblem(
                    new Dictionary<string, string[]> { ["clientId"] = [$"must be {ClientAccess.FormatDescription}"] },
                    title: "Invalid client id");
            }

            grant ??= ClientAccess.GrantOf(context.HttpContext.User);
            if (!grant.Allows(clientId))
            {
                return TypedResults.Problem(ClientAccess.DeniedMessage(clientId),
                    statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");
            }
        }

        return await next(context);
    }

    private static IEnumerable<string> RequestedClientIds(EndpointFilterInvocationContext context)
    {
        var request = context.HttpContext.Request;
        if (request.RouteValues.TryGetValue("clientId", out var routeValue) && routeValue is string fromRoute)
        {
            yield return fromRoute;
        }

        foreach (var fromQuery in request.Query["clientId"])
        {
            if (fromQuery is not null)
            {
                yield return fromQuery;
            }
        }

        foreach (var argument in context.Arguments)
        {
            switch (argument)
            {
                case IClientScoped { ClientId: { } fromBody }:
                    yield return fromBody;
                    break;
                case IClientsScoped scoped:
                    foreach (var id in scoped.NamedClientIds())
                    {
                        if (id is not null)
                        {
                            yield return id;
                        }
                    }

                    break;
                case IEnumerable<IClientScoped> many:
                    foreach (var item in many)
                    {
                        if (item?.ClientId is { } fromItem)
                        {
                            yield return fromItem;
                        }
                    }

                    break;
            }
        }
    }
}

/// <summary>Refuses a request unless the caller's token grants every client (<c>*</c>).</summary>
public sealed class AllClientsFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        return ClientAccess.GrantOf(context.HttpContext.User).All
            ? await next(context)
            : TypedResults.Problem("This operation affects several clients; it needs a token whose clients claim is '*'.",
                statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");
    }
}
