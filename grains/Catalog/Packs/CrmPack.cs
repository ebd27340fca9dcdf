using static AnalyticsEngine.Catalog.KpiDirection;
using static AnalyticsEngine.Catalog.FieldType;
using static AnalyticsEngine.Catalog.Packs.CatalogDsl;

namespace AnalyticsEngine.Catalog.Packs;

/// <summary>Customer relationship management: the customer base, engagement, service and customer experience.</summary>
internal static class CrmPack
{
    public const string Chain = "CRM";
    private const string Domain = "crm_data";

    public static readonly ValueChainDefinition ValueChain = new(
        Chain,
        "Customer relationship management",
        "How customers are won, served and kept: the customer base and its churn, engagement, support quality and loyalty.");

    public static readonly ModuleDefinition[] Modules =
    [
        new("CRM_ACCOUNTS", "Accounts", "The customer base, recurring revenue movements and churn, and how actively accounts are worked.", Chain),
        new("CRM_SERVICE", "Customer service", "Support responsiveness and resolution.", Chain),
        new("CRM_EXPERIENCE", "Customer experience", "What customers say: satisfaction and loyalty surveys.", Chain),
    ];

    public static readonly ObjectModelDefinition[] ObjectModels =
    [
        SnapshotObject(
            "accounts", "Accounts",
            $"Customer accounts. {SnapshotRule}",
            Domain, "updated_at", ["account_id"],
            [
                Required("account_id", Text, "Identifier of the account in the CRM."),
                Required("account_name", Text, "Display name of the account."),
                Optional("industry", Text, "Industry of the account."),
                Optional("segment", Text, "Segment: 'enterprise', 'mid_market' or 'smb'."),
                Required("status", Text, "Lifecycle status: 'prospect', 'active' or 'churned'."),
                Optional("monthly_recurring_revenue", Number, "Recurring revenue per month, in the reporting currency."),
                Required("created_at", Timestamp, "When the account was created."),
                Required("updated_at", Timestamp, "When this state of the account became true; a later row replaces it from then on."),
            ]),
        EventObject(
            "subscription_changes", "Subscription changes",
            "Movements of an account's recurring revenue: new business, expansion, contraction, churn and reactivation.",
            Domain, "changed_at", ["change_id"],
            [
                Required("change_id", Text, "Identifier of the change."),
                Required("account_id", Text, "Account whose subscription changed."),
                Required("change_type", Text, "Kind of movement: 'new', 'expansion', 'contraction', 'churn' or 'reactivation'.").AsDimension(),
                Required("mrr_change", Number, "Change of monthly recurring revenue, in the reporting currency; negative for contraction and churn."),
                Required("changed_at", Timestamp, "When the change took effect; places it in time."),
            ],
            RefersTo("account_id", "accounts", "account_id")),
        EventObject(
            "activities", "Activities",
            "Sales and account-management touches: calls, emails, meetings, demos.",
            Domain, "occurred_at", ["activity_id"],
            [
                Required("activity_id", Text, "Identifier of the activity."),
                Required("account_id", Text, "Account the activity was with."),
                Required("owner_id", Text, "Employee who performed the activity."),
                Required("activity_type", Text, "Kind of touch: 'call', 'email', 'meeting' or 'demo'.").AsDimension(),
                Required("occurred_at", Timestamp, "When the activity took place; places it in time."),
                Optional("duration_minutes", Number, "Length of the activity in minutes."),
            ],
            RefersTo("account_id", "accounts", "account_id")),
        EventObject(
            "resolved_cases", "Resolved support cases",
            "Customer support cases, one row when a case is resolved, with its timeline.",
            Domain, "resolved_at", ["case_id"],
            [
                Required("case_id", Text, "Identifier of the case."),
                Required("account_id", Text, "Account that raised the case."),
                Required("priority", Text, "Priority: 'low', 'medium', 'high' or 'urgent'.").AsDimension(),
                Required("opened_at", Timestamp, "When the case was opened."),
                Optional("first_response_at", Timestamp, "When the customer first got a reply from support."),
                Required("resolved_at", Timestamp, "When the case was resolved; places it in time."),
                Required("escalated", FieldType.Boolean, "The case was escalated beyond first-line support."),
            ],
            RefersTo("account_id", "accounts", "account_id")),
        EventObject(
            "survey_responses", "Survey responses",
            "Answers to customer surveys: the Net Promoter question (0-10) and post-interaction satisfaction (1-5).",
            Domain, "responded_at", ["response_id"],
            [
                Required("response_id", Text, "Identifier of the response."),
                Required("account_id", Text, "Account of the respondent."),
                Required("survey_type", Text, "Survey answered: 'nps' (likelihood to recommend, 0-10) or 'csat' (satisfaction, 1-5)."),
                Required("score", Integer, "The answer on the survey's scale."),
                Required("responded_at", Timestamp, "When the response was given; places it in time."),
                Optional("channel", Text, "Where the survey was answered: 'email', 'in_app' or 'phone'.").AsDimension(),
            ],
            RefersTo("account_id", "accounts", "account_id")),
    ];

    public static readonly KpiDefinition[] Kpis =
    [
        Define("CRM_ACTIVE_ACCOUNTS", "Active Accounts",
            "Number of accounts that are active customers at the end of the period.",
            "count(accounts) filter (where accounts.status = 'active')",
            Units.Count, HigherIsBetter, "CRM_ACCOUNTS", Chain, "accounts"),
        Define("CRM_LOGO_CHURN_RATE", "Logo Churn Rate",
            "Accounts lost in the period per hundred active accounts at the end of the period.",
            "100 * count(subscription_changes) filter (where subscription_changes.change_type = 'churn') / count(accounts) filter (where accounts.status = 'active')",
            Units.Percent, LowerIsBetter, "CRM_ACCOUNTS", Chain, "subscription_changes", "accounts"),
        Define("CRM_NET_NEW_MRR", "Net New Recurring Revenue",
            "Monthly recurring revenue gained from new business, expansion and reactivation, less what contraction and churn took away.",
            "coalesce(sum(subscription_changes.mrr_change), 0)",
            Units.Currency, HigherIsBetter, "CRM_ACCOUNTS", Chain, "subscription_changes"),
        Define("CRM_ACTIVITIES_PER_ACCOUNT", "Activities per Engaged Account",
            "Average number of calls, emails, meetings and demos per account touched in the period.",
            "count(activities) / count_distinct(activities.account_id)",
            Units.Count, HigherIsBetter, "CRM_ACCOUNTS", Chain, "activities"),

        Define("CRM_FIRST_RESPONSE_TIME", "Average First Response Time",
            "Average hours from a case being opened to the customer's first reply, over cases resolved in the period.",
            "avg(resolved_cases.first_response_at - resolved_cases.opened_at) filter (where resolved_cases.first_response_at is not null) / 3600000",
            Units.Hours, LowerIsBetter, "CRM_SERVICE", Chain, "resolved_cases"),
        Define("CRM_RESOLUTION_TIME", "Average Resolution Time",
            "Average hours from a case being opened to its resolution, over cases resolved in the period.",
            "avg(resolved_cases.resolved_at - resolved_cases.opened_at) / 3600000",
            Units.Hours, LowerIsBetter, "CRM_SERVICE", Chain, "resolved_cases"),
        Define("CRM_ESCALATION_RATE", "Case Escalation Rate",
            "Share of cases resolved in the period that had to be escalated beyond first-line support.",
            "100 * count(resolved_cases) filter (where resolved_cases.escalated) / count(resolved_cases)",
            Units.Percent, LowerIsBetter, "CRM_SERVICE", Chain, "resolved_cases"),

        Define("CRM_CSAT", "Customer Satisfaction (CSAT)",
            "Share of satisfaction ratings that were 4 or 5 out of 5.",
            "100 * count(survey_responses) filter (where survey_responses.survey_type = 'csat' and survey_responses.score >= 4) / " +
            "count(survey_responses) filter (where survey_responses.survey_type = 'csat')",
            Units.Percent, HigherIsBetter, "CRM_EXPERIENCE", Chain, "survey_responses"),
        Define("CRM_NPS", "Net Promoter Score",
            "Promoters (9-10) minus detractors (0-6) as a share of all answers to the recommend question, from -100 to 100.",
            "100 * (count(survey_responses) filter (where survey_responses.survey_type = 'nps' and survey_responses.score >= 9) - " +
            "count(survey_responses) filter (where survey_responses.survey_type = 'nps' and survey_responses.score <= 6)) / " +
            "count(survey_responses) filter (where survey_responses.survey_type = 'nps')",
            Units.Score, HigherIsBetter, "CRM_EXPERIENCE", Chain, "survey_responses"),
    ];
}
