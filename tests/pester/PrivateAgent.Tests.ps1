#Requires -Version 7.6
# With no agent running, root's first command starts a private agent; the session's later commands
# use it, and it stops when idle, with the module, or with the PowerShell that started it.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:PreviousSocket = $env:GADGET_AGENT_SOCKET
    $script:PreviousIdle = $env:GADGET_PRIVATE_AGENT_IDLE
    $script:Scratch = New-TestDirectory
    # Nothing listens here, so the commands below use a private agent.
    $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
    Remove-Item Env:GADGET_PRIVATE_AGENT_IDLE -ErrorAction Ignore
}

AfterAll {
    if (Get-Module Gadget) { [Gadget.Connection.LocalAgent]::StopPrivateAgent() }
    $env:GADGET_AGENT_SOCKET = $PreviousSocket
    $env:GADGET_PRIVATE_AGENT_IDLE = $PreviousIdle
    Remove-Item $Scratch -Recurse -Force -ErrorAction Ignore
}

Describe 'A private agent' -Skip:$SkipKernel {
    BeforeEach {
        # Whatever an earlier test (or test file) left, each test starts with none.
        [Gadget.Connection.LocalAgent]::StopPrivateAgent()
        Remove-Item Env:GADGET_PRIVATE_AGENT_IDLE -ErrorAction Ignore
        @(Get-PrivateAgentProcess) | Should -BeNullOrEmpty -Because 'the session had its private agent stopped'
    }

    It 'Trace-GadgetExec -Local starts one and sees the processes this test starts' {
        $marker = New-Marker
        $activity = Start-ExecActivity -Marker $marker -IntervalMilliseconds 200
        try {
            $events = @(Trace-GadgetExec -Local -Comm true -Duration 30 | Where-Object { $_.Args -contains $marker } | Select-Object -First 2)
        }
        finally { $started = @(Stop-ExecActivity $activity) }
        $events.Count | Should -Be 2
        $events | ForEach-Object {
            $_.Pid | Should -BeIn $started
            $_.Ppid | Should -Be $PID
            $_.ExePath | Should -BeExactly '/bin/true'
        }
        @(Get-PrivateAgentProcess).Count | Should -Be 1 -Because 'it waits for the next command'
    }

    It 'serves the later commands of the session, even after one failed' {
        $first = Get-GadgetVersion -Local
        $agents = @(Get-PrivateAgentProcess)
        $agents.Count | Should -Be 1
        $first.Agent | Should -Match "^private agent \(pid $($agents[0])\) at /run/gadget/gadget-$PID-[0-9a-f]+\.sock$"
        $first.Gadgets | Should -Contain 'exec'

        { Start-GadgetTrace -Local -Gadget no-such-gadget } | Should -Throw -ErrorId 'UnknownGadget,Gadget.Commands.StartGadgetTraceCommand'
        @(Get-GadgetProcess -Local -Pid $PID).Pid | Should -Be $PID
        (Get-GadgetVersion -Local).Agent | Should -BeExactly $first.Agent
        @(Get-PrivateAgentProcess) | Should -Be $agents
    }

    It 'Select-Object -First 1 ends the command promptly, and the agent serves the next one' {
        $activity = Start-ExecActivity -Marker (New-Marker) -IntervalMilliseconds 100
        try {
            $run = Invoke-Measured { Trace-GadgetExec -Local -Comm true | Select-Object -First 1 }
        }
        finally { Stop-ExecActivity $activity | Out-Null }
        $run.Output.Count | Should -Be 1
        # Starting the agent loads .NET and the BPF object: allow for it, but not for a hang.
        $run.Elapsed.TotalSeconds | Should -BeLessThan 25
        $agents = @(Get-PrivateAgentProcess)
        $agents.Count | Should -Be 1
        (Get-GadgetVersion -Local).Agent | Should -Match "\(pid $($agents[0])\)"
    }

    It 'stops once idle for GADGET_PRIVATE_AGENT_IDLE seconds, and a later command starts another' {
        $env:GADGET_PRIVATE_AGENT_IDLE = '1'
        $first = (Get-GadgetVersion -Local).Agent
        @(Get-PrivateAgentProcess).Count | Should -Be 1
        Wait-Condition { @(Get-PrivateAgentProcess).Count -eq 0 } -Timeout '00:00:10' | Should -BeTrue
        Get-ChildItem /run/gadget -Filter "gadget-$PID-*.sock" -ErrorAction Ignore | Should -BeNullOrEmpty -Because 'the agent removes its socket'

        (Get-GadgetVersion -Local).Agent | Should -Not -Be $first
    }

    It 'with GADGET_PRIVATE_AGENT_IDLE=0, stops after each command' {
        $env:GADGET_PRIVATE_AGENT_IDLE = '0'
        (Get-GadgetVersion -Local).Agent | Should -Match '^private agent'
        @(Get-PrivateAgentProcess) | Should -BeNullOrEmpty -Because 'the command waited for its agent to stop'
        { Start-GadgetTrace -Local -Gadget no-such-gadget } | Should -Throw -ErrorId 'UnknownGadget,Gadget.Commands.StartGadgetTraceCommand'
        @(Get-PrivateAgentProcess) | Should -BeNullOrEmpty -Because 'a failing command stops its agent too'
    }

    It 'ends with the PowerShell that started it' {
        $modulePath = Join-Path $ModulePath 'Gadget.psd1'
        $run = Invoke-FreshPwsh "`$env:GADGET_AGENT_SOCKET = '$env:GADGET_AGENT_SOCKET'; Import-Module '$modulePath'; (Get-GadgetVersion -Local).Agent; `$PID"
        $run.ExitCode | Should -Be 0 -Because $run.Errors
        $agent, $shell = $run.Output -split "`n" | ForEach-Object Trim
        $agent | Should -Match '^private agent \(pid (\d+)\)'
        $agentPid = [int]($agent -replace '^private agent \(pid (\d+)\).*$', '$1')
        Wait-Condition { -not (Test-Path "/proc/$agentPid") } -Timeout '00:00:10' | Should -BeTrue
        Get-ChildItem /run/gadget -Filter "gadget-$shell-*.sock" -ErrorAction Ignore | Should -BeNullOrEmpty
    }

    It 'goes with the module (Remove-Module)' {
        Get-GadgetVersion -Local | Out-Null
        @(Get-PrivateAgentProcess).Count | Should -Be 1
        Remove-Module Gadget
        try {
            @(Get-PrivateAgentProcess) | Should -BeNullOrEmpty
            Get-ChildItem /run/gadget -Filter "gadget-$PID-*.sock" -ErrorAction Ignore | Should -BeNullOrEmpty
        }
        finally { Import-Module (Join-Path $ModulePath 'Gadget.psd1') }
    }
}
