# Input functions shared by the rules (the lint keeps functions out of rule files).


def rounds_to_analyse(wc):
    """1, or for a sequential hypothesis the round at which its looks stop: asking the checkpoint for the look
    after round k trains round k first (refute.workflow.agenda.Agenda.rounds_to_analyse)."""
    return AGENDA.rounds_to_analyse(wc.id, lambda k: checkpoints.look.get(id=wc.id, round=str(k)).output[0])
