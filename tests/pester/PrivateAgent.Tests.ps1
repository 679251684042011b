#Requires -Version 7.6
# With no agent running, root's commands start a private agent for the command and stop it after.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:PreviousSocket = $env:GADGET_AGENT_SOCKET
    $script:Scratch = New-TestDirectory
    # Nothing listens here, so every command below starts its own agent.
    $env:GADGET_AGENT_SOCKET = Join-Path $Scratch 'none/agent.sock'
}

AfterAll {
    $env:GADGET_AGENT_SOCKET = $PreviousSocket
    Remove-Item $Scratch -Recurse -Force -ErrorAction Ignore
}

Describe 'A private agent' -Skip:$SkipKernel {
    BeforeEach {
        @(Get-PrivateAgentProcess) | Should -BeNullOrEmpty -Because 'no agent of an earlier command may be left'
    }

    It 'Trace-GadgetExec -Local starts one, sees the processes this test starts, and stops it' {
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
        Wait-Condition { @(Get-PrivateAgentProcess).Count -eq 0 } -Timeout '00:00:10' | Should -BeTrue
    }

    It 'Select-Object -First 1 ends the command promptly and stops the agent' {
        $activity = Start-ExecActivity -Marker (New-Marker) -IntervalMilliseconds 100
        try {
            $run = Invoke-Measured { Trace-GadgetExec -Local -Comm true | Select-Object -First 1 }
        }
        finally { Stop-ExecActivity $activity | Out-Null }
        $run.Output.Count | Should -Be 1
        # Starting the agent loads .NET and the BPF object: allow for it, but not for a hang.
        $run.Elapsed.TotalSeconds | Should -BeLessThan 25
        Wait-Condition { @(Get-PrivateAgentProcess).Count -eq 0 } -Timeout '00:00:10' | Should -BeTrue
    }

    It 'Get-GadgetVersion -Local says the agent was started for the command' {
        $version = Get-GadgetVersion -Local
        $version.Agent | Should -BeExactly 'started for this command'
        $version.Gadgets | Should -Contain 'exec'
        Wait-Condition { @(Get-PrivateAgentProcess).Count -eq 0 } -Timeout '00:00:10' | Should -BeTrue
    }

    It 'a failing command stops its agent too' {
        { Start-GadgetTrace -Local -Gadget no-such-gadget } | Should -Throw -ErrorId 'UnknownGadget,Gadget.Commands.StartGadgetTraceCommand'
        Wait-Condition { @(Get-PrivateAgentProcess).Count -eq 0 } -Timeout '00:00:10' | Should -BeTrue
    }

    It 'removes its socket' {
        Get-ChildItem /run/gadget -Filter "gadget-$PID-*.sock" -ErrorAction Ignore | Should -BeNullOrEmpty
    }
}
