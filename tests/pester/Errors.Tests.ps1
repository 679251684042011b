#Requires -Version 7.6
# Every setup failure is a terminating error with an exact FullyQualifiedErrorId.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
    $script:Cmdlets = @(
        @{ Name = 'Trace-GadgetExec'; Type = 'Gadget.Commands.TraceExecCommand'; Arguments = @{ Duration = 1 } }
        @{ Name = 'Start-GadgetTrace'; Type = 'Gadget.Commands.StartGadgetTraceCommand'; Arguments = @{ Gadget = 'exec'; Duration = 1 } }
        @{ Name = 'Get-GadgetVersion'; Type = 'Gadget.Commands.GetGadgetVersionCommand'; Arguments = @{} }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force

    function Get-ThrownError {
        # Runs $ScriptBlock, which must throw, and returns the ErrorRecord.
        param([scriptblock] $ScriptBlock)
        $ScriptBlock | Should -Throw -PassThru
    }

    $script:SavedVariables = @{}
    foreach ($name in 'GADGET_AGENT_SOCKET', 'GADGET_AGENT_PATH', 'KUBECONFIG') {
        $SavedVariables[$name] = [Environment]::GetEnvironmentVariable($name)
    }
    $script:Scratch = New-TestDirectory
    # A socket path where nothing listens, so no test reaches a real agent by accident.
    $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
}

AfterAll {
    foreach ($entry in $SavedVariables.GetEnumerator()) {
        [Environment]::SetEnvironmentVariable($entry.Key, $entry.Value)
    }
    Remove-Item $Scratch -Recurse -Force -ErrorAction Ignore
}

Describe 'Without -Local' {
    BeforeAll {
        $env:KUBECONFIG = Join-Path $Scratch 'no-such-kubeconfig'
    }

    It '<Name> fails with KubeConfigNotFound' -ForEach $Cmdlets {
        $arguments = $Arguments
        $record = Get-ThrownError { & $Name @arguments }
        $record.FullyQualifiedErrorId | Should -BeExactly "KubeConfigNotFound,$Type"
        $record.CategoryInfo.Category | Should -Be 'NotInstalled'
        $record.TargetObject | Should -BeExactly $env:KUBECONFIG
        $record.ErrorDetails.RecommendedAction | Should -Match '-Local'
    }
}

Describe 'Parameter validation' {
    It '-Duration <Value> fails with ParameterArgumentTransformationError' -ForEach @(
        @{ Value = 'abc' }
        @{ Value = '0' }
        @{ Value = '-5' }
        @{ Value = '10parsecs' }
    ) {
        $value = $Value
        $record = Get-ThrownError { Trace-GadgetExec -Local -Duration $value }
        $record.FullyQualifiedErrorId | Should -BeExactly 'ParameterArgumentTransformationError,Gadget.Commands.TraceExecCommand'
    }

    It 'the -Duration message says what a duration looks like' {
        $record = Get-ThrownError { Trace-GadgetExec -Local -Duration abc }
        $record.Exception.Message | Should -Match "'abc' is not a duration"
        $record.Exception.Message | Should -Match '30s'
    }

    It '-MaxEvents 0 fails validation' {
        (Get-ThrownError { Trace-GadgetExec -Local -MaxEvents 0 }).FullyQualifiedErrorId |
            Should -BeExactly 'ParameterArgumentValidationError,Gadget.Commands.TraceExecCommand'
    }

    It '-Gadget cannot be empty' {
        (Get-ThrownError { Start-GadgetTrace -Local -Gadget '' }).FullyQualifiedErrorId |
            Should -BeExactly 'ParameterArgumentValidationError,Gadget.Commands.StartGadgetTraceCommand'
    }
}

Describe 'Error action semantics' {
    BeforeAll {
        $env:KUBECONFIG = Join-Path $Scratch 'no-such-kubeconfig'
    }

    It '-ErrorAction Stop: try/catch receives the ErrorRecord and the rest of the try block is skipped' {
        $reached = $false
        $caught = $null
        try {
            Trace-GadgetExec -Duration 1 -ErrorAction Stop
            $reached = $true
        }
        catch { $caught = $_ }
        $reached | Should -BeFalse
        $caught | Should -BeOfType ([Management.Automation.ErrorRecord])
        $caught.FullyQualifiedErrorId | Should -BeExactly 'KubeConfigNotFound,Gadget.Commands.TraceExecCommand'
    }

    It 'a setup failure cannot be silenced with -ErrorAction <_>' -ForEach 'SilentlyContinue', 'Ignore' {
        $action = $_
        $caught = $null
        try { Trace-GadgetExec -Duration 1 -ErrorAction $action } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -BeExactly 'KubeConfigNotFound,Gadget.Commands.TraceExecCommand'
    }

    It 'without try/catch the failure ends the statement, not the script, and lands in the error stream' {
        # In a runspace of its own: inside It, Pester's own try/catch would catch the failure first.
        $shell = [powershell]::Create()
        try {
            $null = $shell.AddScript("Import-Module '$(Join-Path $ModulePath 'Gadget.psd1')'; Trace-GadgetExec -Duration 1; 'next statement'")
            $output = $shell.Invoke()
            @($output) | Should -Be @('next statement')
            $shell.HadErrors | Should -BeTrue
            $shell.Streams.Error[0].FullyQualifiedErrorId | Should -BeExactly 'KubeConfigNotFound,Gadget.Commands.TraceExecCommand'
        }
        finally { $shell.Dispose() }
    }

    It 'with $ErrorActionPreference = ''Stop'' the script stops at the failure' {
        $output = [Collections.Generic.List[string]]::new()
        $record = Get-ThrownError { & { $ErrorActionPreference = 'Stop'; Trace-GadgetExec -Duration 1; $output.Add('after') } }
        $output | Should -BeNullOrEmpty
        $record.FullyQualifiedErrorId | Should -BeExactly 'KubeConfigNotFound,Gadget.Commands.TraceExecCommand'
    }
}

Describe 'Agent failures' -Skip:$SkipKernel {
    Context 'through a shared agent' {
        BeforeAll {
            $script:Agent = Start-TestAgent -ModulePath $ModulePath
            $env:GADGET_AGENT_SOCKET = $Agent.Socket
        }

        AfterAll {
            $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
            Stop-TestAgent $Agent
        }

        It 'an unknown gadget fails with UnknownGadget' {
            $record = Get-ThrownError { Start-GadgetTrace -Local -Gadget no-such-gadget -Duration 5 }
            $record.FullyQualifiedErrorId | Should -BeExactly 'UnknownGadget,Gadget.Commands.StartGadgetTraceCommand'
            $record.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $record.Exception.Message | Should -Match 'exec' -Because 'the message lists the gadgets there are'
        }

        It 'an unknown gadget parameter fails with InvalidGadgetParameter' {
            $record = Get-ThrownError { Start-GadgetTrace -Local -Gadget exec -Parameter @{ 'no-such-parameter' = 1 } -Duration 5 }
            $record.FullyQualifiedErrorId | Should -BeExactly 'InvalidGadgetParameter,Gadget.Commands.StartGadgetTraceCommand'
            $record.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $record.Exception.Message | Should -Match 'include-failed' -Because 'the message lists the parameters there are'
        }

        It 'a bad gadget parameter value fails with InvalidGadgetParameter' {
            $record = Get-ThrownError { Start-GadgetTrace -Local -Gadget exec -Parameter @{ 'include-failed' = 'maybe' } -Duration 5 }
            $record.FullyQualifiedErrorId | Should -BeExactly 'InvalidGadgetParameter,Gadget.Commands.StartGadgetTraceCommand'
        }

        It 'a failed trace leaves no program attached' {
            Wait-Condition { (Get-ExecProgramCount -ProcessId $Agent.Process.Id) -eq 0 } -Timeout '00:00:05' | Should -BeTrue
        }
    }

    Context 'an agent without kernel BTF' {
        BeforeAll {
            $script:BtfAgent = Start-TestAgent -ModulePath $ModulePath -ExtraArguments '--kernel-btf', '/nonexistent/vmlinux'
            $env:GADGET_AGENT_SOCKET = $BtfAgent.Socket
        }

        AfterAll {
            $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
            Stop-TestAgent $BtfAgent
        }

        It '<Name> fails with KernelBtfMissing' -ForEach ($Cmdlets | Where-Object Name -ne 'Get-GadgetVersion') {
            $arguments = $Arguments
            $record = Get-ThrownError { & $Name -Local @arguments }
            $record.FullyQualifiedErrorId | Should -BeExactly "KernelBtfMissing,$Type"
            $record.Exception.Message | Should -Match '/nonexistent/vmlinux'
        }
    }

    Context 'no agent running and none to start' {
        It 'a missing agent executable fails with AgentNotFound' {
            $env:GADGET_AGENT_PATH = Join-Path $Scratch 'no-such-agent'
            try {
                $record = Get-ThrownError { Trace-GadgetExec -Local -Duration 1 }
            }
            finally { $env:GADGET_AGENT_PATH = $SavedVariables['GADGET_AGENT_PATH'] }
            $record.FullyQualifiedErrorId | Should -BeExactly 'AgentNotFound,Gadget.Commands.TraceExecCommand'
            $record.ErrorDetails.RecommendedAction | Should -Match 'GADGET_AGENT_PATH'
        }

        It 'an agent that exits at once fails with AgentStartFailed' {
            $env:GADGET_AGENT_PATH = '/bin/false'
            try {
                $record = Get-ThrownError { Get-GadgetVersion -Local }
            }
            finally { $env:GADGET_AGENT_PATH = $SavedVariables['GADGET_AGENT_PATH'] }
            $record.FullyQualifiedErrorId | Should -BeExactly 'AgentStartFailed,Gadget.Commands.GetGadgetVersionCommand'
            $record.Exception.Message | Should -Match 'exited with code 1'
        }
    }
}

Describe 'A user who is not root' -Skip:$SkipKernel {
    BeforeAll {
        # The unprivileged pwsh: pwsh from the dotnet tool lives under root's NuGet folder, which
        # user nobody cannot read, so copy $PSHOME (and the module) to a world-readable directory
        # and run pwsh.dll there with the same dotnet host. HOME and DOTNET_CLI_HOME point at a
        # writable directory so that neither pwsh nor dotnet tries to write into /root.
        $script:Unprivileged = New-TestDirectory 'gadget-nobody'
        Copy-Item $PSHOME (Join-Path $Unprivileged 'pwsh') -Recurse
        Copy-Item $ModulePath (Join-Path $Unprivileged 'Gadget') -Recurse
        $home_ = New-Item (Join-Path $Unprivileged 'home') -ItemType Directory
        & chmod -R a+rX $Unprivileged
        & chmod 0777 $home_.FullName

        $script:SharedAgent = Start-TestAgent -ModulePath $ModulePath

        function Invoke-AsNobody {
            # Runs $Command in pwsh as uid/gid 65534 without capabilities; returns its output lines.
            param([string] $Command, [string] $Socket)
            $hostPath = [Environment]::ProcessPath
            $start = [Diagnostics.ProcessStartInfo]::new('setpriv')
            foreach ($argument in '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--', $hostPath) {
                $start.ArgumentList.Add($argument)
            }
            if ([IO.Path]::GetFileNameWithoutExtension($hostPath) -eq 'dotnet') {
                $start.ArgumentList.Add((Join-Path $Unprivileged 'pwsh/pwsh.dll'))
            }
            foreach ($argument in '-NoProfile', '-NonInteractive', '-Command', $Command) { $start.ArgumentList.Add($argument) }
            $start.Environment['HOME'] = $home_.FullName
            $start.Environment['DOTNET_CLI_HOME'] = $home_.FullName
            $start.Environment['GADGET_AGENT_SOCKET'] = $Socket
            $start.Environment.Remove('GADGET_AGENT_PATH') | Out-Null
            $start.Environment.Remove('PSModulePath') | Out-Null
            $start.WorkingDirectory = $home_.FullName
            $start.RedirectStandardOutput = $true
            $start.RedirectStandardError = $true
            $process = [Diagnostics.Process]::Start($start)
            $stderr = $process.StandardError.ReadToEndAsync()
            $stdout = $process.StandardOutput.ReadToEnd()
            if (-not $process.WaitForExit(60000)) { $process.Kill(); throw 'The unprivileged pwsh did not finish within 60 s.' }
            [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $stdout.Trim(); Errors = $stderr.Result }
        }

        # One unprivileged pwsh (its start is slow) tries both situations in turn.
        $probe = @'
Import-Module '{0}'
$result = [ordered]@{{ Uid = [int](& id -u); Privileged = [Environment]::IsPrivilegedProcess }}
foreach ($socket in '{1}', '{2}') {{
    $env:GADGET_AGENT_SOCKET = $socket
    foreach ($name in 'Trace-GadgetExec', 'Get-GadgetVersion') {{
        try {{ & $name -Local | Out-Null; $result["$socket $name"] = 'no error' }}
        catch {{ $result["$socket $name"] = $_.FullyQualifiedErrorId; $result["$socket $name action"] = $_.ErrorDetails.RecommendedAction }}
    }}
}}
$result | ConvertTo-Json -Compress
'@
        $script:NoAgentSocket = Join-Path $Unprivileged 'none/agent.sock'
        $command = $probe -f (Join-Path $Unprivileged 'Gadget/Gadget.psd1'), $NoAgentSocket, $SharedAgent.Socket
        $script:Run = Invoke-AsNobody -Command $command -Socket $NoAgentSocket
        $script:Result = if ($Run.ExitCode -eq 0) { $Run.Output | ConvertFrom-Json -AsHashtable } else { @{} }
    }

    AfterAll {
        Stop-TestAgent $SharedAgent
        Remove-Item $Unprivileged -Recurse -Force -ErrorAction Ignore
    }

    It 'runs without root and without capabilities' {
        $Run.ExitCode | Should -Be 0 -Because $Run.Errors
        $Result.Uid | Should -Be 65534
        $Result.Privileged | Should -BeFalse
    }

    It 'gets NotRoot when no agent runs (it may not start one)' {
        $Result["$NoAgentSocket Trace-GadgetExec"] | Should -BeExactly 'NotRoot,Gadget.Commands.TraceExecCommand'
        $Result["$NoAgentSocket Get-GadgetVersion"] | Should -BeExactly 'NotRoot,Gadget.Commands.GetGadgetVersionCommand'
        $Result["$NoAgentSocket Trace-GadgetExec action"] | Should -Match 'root'
    }

    It 'gets NotRoot from an agent that only root may reach' {
        $Result["$($SharedAgent.Socket) Trace-GadgetExec"] | Should -BeExactly 'NotRoot,Gadget.Commands.TraceExecCommand'
        $Result["$($SharedAgent.Socket) Get-GadgetVersion"] | Should -BeExactly 'NotRoot,Gadget.Commands.GetGadgetVersionCommand'
    }
}
