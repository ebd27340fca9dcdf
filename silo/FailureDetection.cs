using Orleans.Configuration;

namespace AnalyticsEngine.Silo;

/// <summary>
/// How fast the cluster notices a dead silo. Orleans' defaults (10 s probes, 3 misses) take close to a minute;
/// KPIs must be current again within 30 s of a crash (grains move, catch up from the database), so a silo
/// is declared dead after three missed two-second probes. Values under <c>Orleans:Membership</c> override these.
/// </summary>
public static class FailureDetection
{
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    public const int MissedProbesLimit = 3;

    public static ISiloBuilder UseFastFailureDetection(this ISiloBuilder silo, IConfiguration? membership = null)
    {
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = ProbeTimeout;
            o.NumMissedProbesLimit = MissedProbesLimit;
        });
        if (membership is not null)
        {
            silo.Services.AddOptions<ClusterMembershipOptions>().Bind(membership);
        }

        return silo;
    }
}
