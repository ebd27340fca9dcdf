namespace AnalyticsEngine.Gateway.Security;

/// <summary>The roles a token can carry (in the <c>role</c> claim).</summary>
public static class Roles
{
    /// <summary>Manages clients, the demo feed and the catalog; also everything an analyst may do.</summary>
    public const string Admin = "admin";

    /// <summary>Ingests data, runs queries and manages custom KPIs; also everything a viewer may do.</summary>
    public const string Analyst = "analyst";

    /// <summary>Reads the catalog, its clients' configuration and KPI values, and watches dashboards.</summary>
    public const string Viewer = "viewer";

    public static readonly IReadOnlyList<string> All = [Admin, Analyst, Viewer];
}

/// <summary>Authorization policies; each endpoint names the weakest one that suffices.</summary>
public static class Policies
{
    /// <summary>viewer, analyst or admin.</summary>
    public const string Read = "read";

    /// <summary>analyst or admin.</summary>
    public const string Analyze = "analyze";

    /// <summary>admin only.</summary>
    public const string Administer = "administer";
}
