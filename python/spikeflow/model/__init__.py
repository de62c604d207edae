"""What to simulate: neuron parameter sets, connection rules, value distributions."""
from spikeflow.model.connectors import (
    AllToAll,
    Connector,
    FixedInDegree,
    FixedOutDegree,
    FixedProbability,
    FromArrays,
    OneToOne,
)
from spikeflow.model.neurons import IF, LIF, NeuronModel
from spikeflow.model.plasticity import STDP, RewardSTDP, TripletSTDP
from spikeflow.model.values import Normal, Uniform

__all__ = [
    "LIF", "IF", "NeuronModel",
    "Connector", "AllToAll", "OneToOne", "FixedProbability", "FixedInDegree", "FixedOutDegree", "FromArrays",
    "Uniform", "Normal", "STDP", "TripletSTDP", "RewardSTDP",
]
