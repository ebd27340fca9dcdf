namespace AnalyticsEngine.Proposals;

/// <summary>
/// The engagement's phases and who works when. The integration developer gives an engagement
/// <see cref="PriceList.DeveloperHoursPerWeek"/> hours a week, so data integration and KPI implementation last five
/// weeks or as long as their fixed-price hours need; KPI implementation starts two weeks into data integration and ends
/// at least two weeks after it; testing and acceptance take the three weeks around its end, and the engagement goes
/// live the week after. Setting up a platform comes first, its last week shared with the start of data integration.
/// </summary>
internal static class EngagementSchedule
{
    public const string Developer = "Integration developer/analyst";
    public const string Architect = "Integration architect";
    public const string AccessSpecialist = "Access specialist";
    public const string CloudArchitect = "Cloud architect";

    private const int MinimumPhaseWeeks = 5;

    /// <param name="setupHours">The cloud architect's hours, or 0 without a platform to set up.</param>
    /// <param name="integrationHours">The developer's hours of fixed-price data integration.</param>
    /// <param name="kpiHours">The developer's hours of fixed-price KPI implementation.</param>
    /// <param name="architectForIntegration">Whether some data integration is time and materials.</param>
    /// <param name="architectForKpis">Whether some KPI is time and materials.</param>
    /// <param name="architectHourlyRate">What an architect's hour costs.</param>
    public static (IReadOnlyList<ProposalPhase> Timeline, IReadOnlyList<ProposalResource> Resources) Plan(
        decimal setupHours, decimal integrationHours, decimal kpiHours, bool architectForIntegration, bool architectForKpis, decimal architectHourlyRate)
    {
        var setupWeeks = setupHours > 0 ? Weeks(setupHours, PriceList.ArchitectHoursPerWeek, minimum: 1) : 0;
        var integrationFrom = Math.Max(1, setupWeeks);
        var integrationTo = integrationFrom + Weeks(integrationHours, PriceList.DeveloperHoursPerWeek, MinimumPhaseWeeks) - 1;
        var kpisFrom = integrationFrom + 2;
        var kpisTo = Math.Max(kpisFrom + Weeks(kpiHours, PriceList.DeveloperHoursPerWeek, MinimumPhaseWeeks) - 1, integrationTo + 2);
        var goLive = kpisTo + 2;

        var timeline = new List<ProposalPhase>();
        if (setupWeeks > 0)
        {
            timeline.Add(new("Environment setup", 1, setupWeeks, [CloudArchitect, AccessSpecialist]));
        }

        timeline.Add(new("Data integration", integrationFrom, integrationTo, architectForIntegration ? [Developer, Architect] : [Developer]));
        timeline.Add(new("KPI implementation", kpisFrom, kpisTo, architectForKpis ? [Developer, Architect] : [Developer]));
        timeline.Add(new("Testing and UAT", kpisTo - 1, kpisTo + 1, [Developer]));
        timeline.Add(new("Go-live", goLive, goLive, [Developer]));

        var resources = new List<ProposalResource>
        {
            new(Developer, 1, goLive, null, "Fixed price: in the implementation items"),
        };
        if (architectForIntegration || architectForKpis)
        {
            resources.Add(new(Architect, null, null, architectHourlyRate, "Time and materials, as needed"));
        }

        resources.Add(new(AccessSpecialist, 1, 1, null, setupWeeks > 0 ? "Included in the environment setup" : "Included"));
        if (setupWeeks > 0)
        {
            resources.Add(new(CloudArchitect, 1, setupWeeks, architectHourlyRate, "The environment setup's hours, in the implementation"));
        }

        return (timeline, resources);
    }

    private static int Weeks(decimal hours, decimal hoursPerWeek, int minimum) =>
        Math.Max(minimum, (int)Math.Ceiling(hours / hoursPerWeek));
}
