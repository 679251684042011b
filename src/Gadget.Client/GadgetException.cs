namespace Gadget;

/// <summary>What kind of failure a <see cref="GadgetException"/> is; the cmdlets map it to an ErrorCategory.</summary>
public enum GadgetErrorKind
{
    /// <summary>The agent cannot be reached.</summary>
    Connection,

    /// <summary>The caller lacks a permission (root, a capability, an RBAC verb).</summary>
    PermissionDenied,

    /// <summary>A name (gadget, node, pod) does not exist.</summary>
    NotFound,

    /// <summary>An argument is wrong; the message says which and why.</summary>
    InvalidArgument,

    /// <summary>The host lacks something Gadget needs (BTF, libbpf, a file system).</summary>
    NotSupported,

    /// <summary>The agent or the kernel failed while running.</summary>
    Failure,

    /// <summary>A limit was reached (the agent's concurrent traces); it passes once others finish.</summary>
    ResourceUnavailable,

    /// <summary>Something did not answer within its deadline.</summary>
    Timeout,
}

/// <summary>A failure with a stable identifier, reported to PowerShell as the error id.</summary>
public sealed class GadgetException : Exception
{
    public GadgetException(string errorId, GadgetErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
    }

    /// <summary>PascalCase identifier, stable across versions (the FullyQualifiedErrorId's first part).</summary>
    public string ErrorId { get; }

    public GadgetErrorKind Kind { get; }

    /// <summary>What to do about it, when the message alone does not say.</summary>
    public string? RecommendedAction { get; init; }
}

/// <summary>Error ids raised by the client itself.</summary>
public static class GadgetErrorId
{
    public const string NotRoot = "NotRoot";
    public const string AgentUnreachable = "AgentUnreachable";
    public const string AgentNotFound = "AgentNotFound";
    public const string AgentStartFailed = "AgentStartFailed";
    public const string AgentStreamBroken = "AgentStreamBroken";
    public const string AgentStopping = "AgentStopping";
    public const string AgentReplyMalformed = "AgentReplyMalformed";
    public const string ProtocolMismatch = "ProtocolMismatch";
    public const string AgentUnresponsive = "AgentUnresponsive";
    public const string AgentSocketUnusable = "AgentSocketUnusable";
    public const string TooManyTraces = "TooManyTraces";
    public const string UnknownGadget = "UnknownGadget";
    public const string KubeConfigNotFound = "KubeConfigNotFound";
    public const string KubeConfigInvalid = "KubeConfigInvalid";
    public const string KubeUnauthorized = "KubeUnauthorized";
    public const string KubeForbidden = "KubeForbidden";
    public const string KubeNotFound = "KubeNotFound";
    public const string KubeRequestFailed = "KubeRequestFailed";
    public const string KubeRequestTimeout = "KubeRequestTimeout";
    public const string KubeCredentialPluginNotFound = "KubeCredentialPluginNotFound";
    public const string GadgetNotInstalled = "GadgetNotInstalled";
    public const string GadgetInstalledElsewhere = "GadgetInstalledElsewhere";
    public const string AgentNotReady = "AgentNotReady";
    public const string AgentsNotReadyInTime = "AgentsNotReadyInTime";
    public const string NodeFailed = "NodeFailed";
}
